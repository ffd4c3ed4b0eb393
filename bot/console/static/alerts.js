// Alerts that reach a person on the queue page (issue 31): a new urgent
// conversation, a conversation past its response target, a person the
// viewer holds writing again, or a conversation passed to one of the
// viewer's teams. Each rings once (a short tone; "Sound off"
// mutes it, remembered in this browser), shows a browser notification when
// the tab is hidden (once allowed), and counts in the tab's title.
"use strict";
(function () {
  const controls = document.getElementById("alert-controls");
  if (!controls) return;
  const words = window.relaisWords;
  const viewer = controls.dataset.viewer;
  const teams = (controls.dataset.teams || "").split(",").filter(Boolean);
  const soundButton = document.getElementById("sound-toggle");
  const allowButton = document.getElementById("notify-allow");
  const title = document.title;
  const key = "relais-sound";
  let muted = false;
  try { muted = window.localStorage.getItem(key) === "off"; } catch (error) { muted = false; }
  let seen = null;  // alert keys already rung (null: the first snapshot)

  function showSound() {
    soundButton.textContent = words.text(muted ? "Sound off" : "Sound on");
    soundButton.setAttribute("aria-pressed", String(!muted));
  }
  soundButton.addEventListener("click", function () {
    muted = !muted;
    try { window.localStorage.setItem(key, muted ? "off" : "on"); } catch (error) { /* private mode */ }
    showSound();
  });
  showSound();

  const canNotify = "Notification" in window;
  if (canNotify && Notification.permission === "default") allowButton.hidden = false;
  allowButton.addEventListener("click", function () {
    Notification.requestPermission().then(function () { allowButton.hidden = true; });
  });

  // Phone browsers refuse `new Notification`: their notifications go
  // through a service worker (notify-sw.js).
  let worker = null;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/static/notify-sw.js")
      .then(function (registration) { worker = registration; })
      .catch(function () { worker = null; });
  }
  function notify(alert) {
    try {
      const note = new Notification("Relais", {body: alert.text, tag: alert.key});
      note.onclick = function () { window.focus(); };
    } catch (error) {
      if (worker) worker.showNotification("Relais", {body: alert.text, tag: alert.key});
    }
  }

  let audio = null;
  function ring() {
    if (muted) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (error) { /* no audio here: the title and notification remain */ }
  }

  function alertsOf(snapshot) {
    const found = [];
    snapshot.tickets.forEach(function (t) {
      if (t.status === "waiting" && t.priority === "urgent") {
        found.push({key: "u" + t.id, text: words.text("Urgent: conversation {id} is waiting", {id: t.id})});
      }
      if (t.sla && t.sla.breached) {
        found.push({key: "b" + t.id + t.sla.kind + t.sla.since, text: words.text("Conversation {id} is past its response target", {id: t.id})});
      }
      if (t.status === "waiting" && t.team && teams.indexOf(t.team) >= 0) {
        found.push({key: "t" + t.id + t.team, text: words.text("Conversation {id} was passed to your team: {team}", {id: t.id, team: words.code("team", t.team)})});
      }
      if (t.sla && t.sla.kind === "next" && t.agent === viewer) {
        found.push({key: "r" + t.id + t.sla.since, text: words.text("Conversation {id}: the person wrote again", {id: t.id})});
      }
    });
    return found;
  }

  document.addEventListener("relais-queue", function (event) {
    const found = alertsOf(event.detail);
    document.title = found.length ? "(" + found.length + ") " + title : title;
    const fresh = found.filter(function (a) { return seen !== null && !seen.has(a.key); });
    seen = new Set(found.map(function (a) { return a.key; }));
    // The first snapshot is what was already there: alerts ring from now on.
    controls.dataset.watching = "yes";
    if (!fresh.length) return;
    ring();
    if (document.hidden && canNotify && Notification.permission === "granted") {
      fresh.forEach(notify);
    }
  });
})();
