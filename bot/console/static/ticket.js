// The conversation page: transcript, status, notes and the channel's reply
// window from the event stream;
// FAQ answers searchable by title and copied into the reply box on click.
"use strict";
(function () {
  const root = document.getElementById("ticket");
  const transcript = document.getElementById("transcript");
  const notes = document.getElementById("notes");
  const reply = document.getElementById("reply-text");
  const words = window.relaisWords;

  function turnItem(turn) {
    const li = document.createElement("li");
    li.className = "turn " + turn.who.split(" ")[0];
    [["at", turn.at], ["who", turn.who_words], ["text", turn.text]].forEach(function (part, i) {
      const span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      if (i > 0) li.appendChild(document.createTextNode(" "));
      li.appendChild(span);
    });
    return li;
  }

  function noteItem(note) {
    const li = document.createElement("li");
    const at = document.createElement("span");
    at.className = "at";
    at.textContent = note.at;
    const author = document.createElement("b");
    author.textContent = note.author;
    li.append(at, " ", author, ": " + note.text);
    return li;
  }

  // The response target (bot/handoff/sla.py): which reply is due, and by
  // when, counted down here every 15 seconds.
  const due = document.getElementById("sla-due");
  function showDue() {
    if (!due.dataset.dueAt) { due.hidden = true; return; }
    const left = Math.round((Date.parse(due.dataset.dueAt) - Date.now()) / 1000);
    const first = due.dataset.kind === "first";
    const values = {due: due.dataset.due, time: words.minutes(Math.abs(left))};
    due.textContent = left >= 0
      ? words.text(first ? "First reply due by {due} ({time} left)" : "Next reply due by {due} ({time} left)", values)
      : words.text(first ? "First reply late by {time} (due {due})" : "Next reply late by {time} (due {due})", values);
    due.className = "sla-due" + (left < 0 ? " breached" : "");
    due.hidden = false;
  }
  showDue();
  window.setInterval(showDue, 15000);

  function render(state) {
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
    transcript.replaceChildren.apply(transcript, state.turns.map(turnItem));
    if (atBottom) transcript.scrollTop = transcript.scrollHeight;
    notes.replaceChildren.apply(notes, state.notes.map(noteItem));
    document.getElementById("status").textContent = words.code("status", state.ticket.status);
    document.getElementById("holder").textContent = state.ticket.agent ? " — " + state.ticket.agent : "";
    // Someone else took it (or it closed) while this page was open.
    const mine = state.ticket.status === "assigned" && state.ticket.agent === root.dataset.viewer;
    const elsewhere = document.getElementById("held-elsewhere");
    if (state.ticket.status === "assigned" && !mine) {
      elsewhere.textContent = words.text("{agent} has this conversation: only they can answer it.", {agent: state.ticket.agent});
      elsewhere.hidden = false;
    } else if (state.ticket.status === "closed" || state.ticket.status === "abandoned") {
      elsewhere.textContent = words.text(state.ticket.status === "closed"
        ? "This conversation is closed." : "This conversation was abandoned.");
      elsewhere.hidden = false;
    }
    due.dataset.kind = state.due ? state.due.kind : "";
    due.dataset.dueAt = state.due ? state.due.due_at : "";
    due.dataset.due = state.due ? state.due.due : "";
    showDue();
    // Who else has this conversation open (bot/console/presence.py).
    const viewers = document.getElementById("viewers");
    viewers.textContent = words.text("Also viewing: {names}", {names: (state.viewers || []).join(", ")});
    viewers.hidden = !(state.viewers && state.viewers.length);
    // Messenger, Instagram, WhatsApp: what the channel still takes.
    const window_ = document.getElementById("reply-window");
    window_.textContent = state.window.text;
    window_.className = "window window-" + state.window.state;
    window_.hidden = state.window.state === "none";
    document.getElementById("invite-form").hidden = !(mine && state.window.state === "template");
    if (!mine || !state.window.can_reply) {
      reply.disabled = true;
      document.getElementById("send-button").disabled = true;
    }
  }

  window.relaisStream("/tickets/" + root.dataset.id + "/events", function (data) {
    if (!data.error) render(data);
  }, function () {});

  document.getElementById("canned-search").addEventListener("input", function (event) {
    const query = event.target.value.trim().toLowerCase();
    document.querySelectorAll(".canned-item").forEach(function (button) {
      button.parentElement.hidden = query && !button.textContent.toLowerCase().includes(query);
    });
  });
  document.querySelectorAll(".canned-item").forEach(function (button) {
    button.addEventListener("click", function () {
      reply.value = button.dataset.text;
      reply.focus();
    });
  });
  transcript.scrollTop = transcript.scrollHeight;
})();
