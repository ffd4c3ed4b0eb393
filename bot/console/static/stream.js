// The console's live updates (server-sent events), shared by its pages.
// The browser reconnects by itself after a network blip; when the server
// refuses the stream instead (signed out, account disabled, password
// changed), it stops for good: the page then goes to sign-in, rather than
// saying "reconnecting…" forever.
"use strict";
// The page's words in the viewer's language (bot/console/pages.py): texts
// by their English, codes (reason.self_harm, status.waiting…) as words.
window.relaisWords = (function () {
  const node = document.getElementById("console-words");
  const words = node ? JSON.parse(node.textContent) : {codes: {}, texts: {}};
  return {
    text: function (english, values) {
      let text = words.texts[english] || english;
      Object.keys(values || {}).forEach(function (name) {
        text = text.split("{" + name + "}").join(values[name]);
      });
      return text;
    },
    code: function (kind, value) {
      if (value === null || value === undefined) return "";
      const word = words.codes[kind + "." + value];
      return word === undefined ? String(value).replace(/_/g, " ") : word;
    },
  };
})();
window.relaisStream = function (url, onData, onState) {
  const events = new EventSource(url);
  events.onmessage = function (event) {
    onState("live");
    onData(JSON.parse(event.data));
  };
  events.onerror = function () {
    if (events.readyState !== EventSource.CLOSED) {
      onState("reconnecting");
      return;
    }
    // Refused: is the session over? The page itself answers with a redirect
    // to sign-in when it is.
    fetch(window.location.pathname, {redirect: "manual", credentials: "same-origin"})
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
        } else {
          onState("reconnecting");
          setTimeout(function () { window.relaisStream(url, onData, onState); }, 5000);
        }
      })
      .catch(function () {
        onState("reconnecting");
        setTimeout(function () { window.relaisStream(url, onData, onState); }, 5000);
      });
  };
  return events;
};
