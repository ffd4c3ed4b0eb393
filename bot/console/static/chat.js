// The brand's public web chat, talking to Rasa's socket.io channel.
// Bot and agent messages are inserted as text; buttons send their payload.
// Its words come from the page (French or English, bot/console/webchat.py).
"use strict";
(function () {
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const status = document.getElementById("status");
  // Relais names the conversation (bot/channels/web.py): it answers the
  // first session_request with a pass, which the chat keeps and shows again
  // to resume. The conversation survives a reload where the browser keeps
  // storage; in a brand's site some browsers refuse it to a frame of another
  // site (it throws): the conversation then lasts as long as the page.
  const key = "relais-conversation";
  let storage = null;
  try {
    storage = window.localStorage;
    storage.getItem(key);
  } catch (error) {
    storage = null;
  }
  let sessionId = storage && storage.getItem(key);
  // Keeps the page's sockets on one Rasa process behind nginx until then.
  const sticky = sessionId || ((window.crypto && crypto.randomUUID)
    ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  function show(who, text) {
    const li = document.createElement("li");
    li.className = "message " + who;
    li.textContent = text;
    list.appendChild(li);
    // Not scrollIntoView: inside a brand's page it would scroll the page too.
    list.scrollTop = list.scrollHeight;
    return li;
  }

  // relais_session keeps the conversation on one Rasa process behind nginx
  // (bot/nginx.py): its socket lives there.
  const socket = io(document.body.dataset.socketUrl, {
    transports: ["websocket", "polling"],
    query: {relais_session: sticky},
  });

  // Relais reads a message only from a socket that holds its conversation
  // (after session_confirm, and after the history of a resumed one): what
  // the person writes before, while connecting or reconnecting, is shown at
  // once and sent when the conversation is ready, in order.
  let ready = false;
  const waiting = [];  // {text, payload, li}
  function emit(item) {
    socket.emit("user_uttered", {message: item.payload || item.text, session_id: sessionId});
  }
  function flush() {
    ready = true;
    while (waiting.length) emit(waiting.shift());
  }
  function send(text, payload) {
    const item = {text: text, payload: payload, li: show("user", text)};
    if (ready) emit(item);
    else waiting.push(item);
  }

  let requested = null;
  socket.on("connect", function () {
    ready = false;
    requested = sessionId;
    socket.emit("session_request", {session_id: sessionId});
    status.textContent = "";
  });
  socket.on("session_confirm", function (pass) {
    sessionId = pass;
    if (storage) storage.setItem(key, pass);
    // A resumed conversation: its history comes next, then the chat sends.
    if (pass !== requested) flush();
  });
  socket.on("disconnect", function () {
    ready = false;
    status.textContent = document.body.dataset.reconnecting;
  });
  let lastBot = null;
  function signed(li, name) {
    // A person from the team wrote this message: say who.
    const by = document.createElement("span");
    by.className = "by";
    by.textContent = name + " · " + document.body.dataset.brand;
    li.prepend(by);
    li.classList.add("agent");
  }
  function showBot(text, buttons) {
    const li = show("bot", text || "");
    lastBot = li;
    (buttons || []).forEach(function (button) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.textContent = button.title;
      b.addEventListener("click", function () { send(button.title, button.payload); });
      li.appendChild(b);
    });
    return li;
  }
  // A correction (an answer the person got has changed): shown in its place,
  // and its first line kept at the top of the chat until the person hides
  // it; the line takes them to the whole message.
  const updates = document.getElementById("updates");
  document.getElementById("dismiss-updates").addEventListener("click", function () {
    updates.hidden = true;
  });
  function pinned(li, id) {
    li.classList.add("correction");
    if (updates.querySelector('[data-correction="' + id + '"]')) return;
    const line = document.createElement("button");
    line.type = "button";
    line.className = "update";
    line.dataset.correction = id;
    line.textContent = li.textContent.split("\n")[0];
    line.addEventListener("click", function () {
      // Not scrollIntoView: inside a brand's page it would scroll the page too.
      const shown = list.querySelector(".message.correction[data-correction='" + id + "']");
      if (shown) list.scrollTop = shown.offsetTop - list.offsetTop;
    });
    li.dataset.correction = id;
    updates.appendChild(line);
    updates.hidden = false;
  }
  socket.on("bot_uttered", function (message) {
    if (message.relais_agent && lastBot) {
      signed(lastBot, message.relais_agent);
      return;
    }
    if (message.relais_correction && lastBot) {
      pinned(lastBot, message.relais_correction);
      return;
    }
    if (!message.text && !(message.buttons || message.quick_replies)) return;
    showBot(message.text, message.quick_replies || message.buttons);
  });
  // A resumed conversation (a reload, the tab reopened, the connection back):
  // the whole of it, with what the team or the bot wrote meanwhile.
  // Null when Relais could not read it: the chat keeps what it shows.
  socket.on("relais_history", function (messages) {
    if (Array.isArray(messages)) {
      list.replaceChildren();
      updates.querySelectorAll(".update").forEach(function (p) { p.remove(); });
      lastBot = null;
      messages.forEach(function (message) {
        if (message.who === "user") {
          show("user", message.text);
          return;
        }
        const li = showBot(message.text, message.buttons);
        if (message.agent) signed(li, message.agent);
        if (message.correction) pinned(li, message.correction);
      });
      // What the person wrote meanwhile stays below, still to be sent.
      waiting.forEach(function (item) { list.appendChild(item.li); });
      list.scrollTop = list.scrollHeight;
    }
    flush();
  });
  // Inside a brand's site (embed.js frames this page): the close button and
  // Escape ask the page to close the panel; the page asks for the focus.
  if (document.body.classList.contains("embedded")) {
    const close = function () { window.parent.postMessage({relais: "close"}, "*"); };
    document.getElementById("close-chat").addEventListener("click", close);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") close();
    });
    window.addEventListener("message", function (event) {
      if (event.data && event.data.relais === "focus") input.focus();
    });
    window.parent.postMessage({relais: "ready"}, "*");
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
})();
