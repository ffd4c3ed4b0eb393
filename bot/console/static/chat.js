// The brand's public web chat, talking to Rasa's socket.io channel.
// Bot and agent messages are inserted as text; buttons send their payload.
"use strict";
(function () {
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const status = document.getElementById("status");
  const key = "relais-session-id";
  let sessionId = window.localStorage.getItem(key);
  if (!sessionId) {
    sessionId = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
      : String(Date.now()) + Math.random().toString(16).slice(2);
    window.localStorage.setItem(key, sessionId);
  }

  function show(who, text) {
    const li = document.createElement("li");
    li.className = "message " + who;
    li.textContent = text;
    list.appendChild(li);
    li.scrollIntoView({block: "end"});
    return li;
  }

  // relais_session keeps the conversation on one Rasa process behind nginx
  // (bot/nginx.py): its socket lives there.
  const socket = io(document.body.dataset.socketUrl, {
    transports: ["websocket", "polling"],
    query: {relais_session: sessionId},
  });

  function send(text, payload) {
    show("user", text);
    socket.emit("user_uttered", {message: payload || text, session_id: sessionId});
  }

  socket.on("connect", function () {
    socket.emit("session_request", {session_id: sessionId});
    status.textContent = "";
  });
  socket.on("disconnect", function () { status.textContent = "Reconnexion… / Reconnecting…"; });
  let lastBot = null;
  socket.on("bot_uttered", function (message) {
    if (message.relais_agent && lastBot) {
      // A person from the team wrote the message just shown: say who.
      const by = document.createElement("span");
      by.className = "by";
      by.textContent = message.relais_agent + " · " + document.body.dataset.brand;
      lastBot.prepend(by);
      lastBot.classList.add("agent");
      return;
    }
    if (!message.text && !(message.buttons || message.quick_replies)) return;
    const li = show("bot", message.text || "");
    lastBot = li;
    (message.quick_replies || message.buttons || []).forEach(function (button) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "choice";
      b.textContent = button.title;
      b.addEventListener("click", function () { send(button.title, button.payload); });
      li.appendChild(b);
    });
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
})();
