// The console's live updates (server-sent events), shared by its pages.
// The browser reconnects by itself after a network blip; when the server
// refuses the stream instead (signed out, account disabled, password
// changed), it stops for good: the page then goes to sign-in, rather than
// saying "reconnecting…" forever.
"use strict";
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
