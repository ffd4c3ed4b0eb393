// The queue page: rows re-rendered from the server's event stream.
// Everything a person typed is inserted as text, never as HTML.
"use strict";
(function () {
  const body = document.getElementById("tickets");
  const live = document.getElementById("live-state");
  const words = window.relaisWords;

  const minutes = words.minutes;

  function cell(row, text, name) {
    const td = document.createElement("td");
    td.textContent = text;
    if (name) td.className = "c-" + name;
    row.appendChild(td);
    return td;
  }

  function render(snapshot) {
    document.getElementById("switch-all").hidden = !snapshot.all_to_humans;
    document.getElementById("switch-closed").hidden = !snapshot.queue_closed;
    document.getElementById("count-waiting").textContent = snapshot.waiting;
    document.getElementById("count-assigned").textContent = snapshot.assigned;
    document.getElementById("median-wait").textContent = minutes(snapshot.median_wait_seconds);
    const rows = snapshot.tickets.map(function (t) {
      const row = document.createElement("tr");
      row.className = "priority-" + t.priority + (t.sla && t.sla.breached ? " breached" : "");
      row.dataset.id = t.id;
      const link = document.createElement("a");
      link.href = "/tickets/" + t.id;
      link.textContent = t.id;
      cell(row, "", "id").appendChild(link);
      cell(row, words.code("priority", t.priority), "priority");
      cell(row, words.code("status", t.status), "status");
      cell(row, minutes(t.waiting_seconds), "waiting");
      // The response target (bot/handoff/sla.py): time left, or how late.
      cell(row, !t.sla ? "–" : t.sla.breached
        ? words.text("late by {time}", {time: minutes(-t.sla.left_seconds)})
        : words.text("{time} left", {time: minutes(t.sla.left_seconds)}), "sla");
      cell(row, words.code("reason", t.reason), "reason");
      const mood = cell(row, words.code("mood", t.mood));
      mood.className = "c-mood mood mood-" + t.mood;
      cell(row, words.code("language", t.language), "language");
      cell(row, words.code("channel", t.channel), "channel");
      // Passed to a team (press, legal...) and waiting: its members first.
      cell(row, t.agent || (t.team ? "→ " + words.code("team", t.team) : ""), "agent");
      cell(row, t.last_message, "last");
      return row;
    });
    if (rows.length === 0) {
      const row = document.createElement("tr");
      row.className = "empty";
      const td = cell(row, words.text("Nobody is waiting."));
      td.colSpan = 11;
      rows.push(row);
    }
    body.replaceChildren.apply(body, rows);
    // The alerts (alerts.js) look at every snapshot.
    document.dispatchEvent(new CustomEvent("relais-queue", {detail: snapshot}));
  }

  window.relaisStream("/queue/events", function (data) {
    if (data.error) { live.textContent = words.text("queue unreachable: {error}", {error: data.error}); live.className = "live down"; return; }
    render(data);
  }, function (state) {
    live.textContent = words.text(state === "live" ? "live" : "reconnecting…");
    live.className = state === "live" ? "live" : "live down";
  });
})();
