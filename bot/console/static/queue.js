// The queue page: rows re-rendered from the server's event stream.
// Everything a person typed is inserted as text, never as HTML.
"use strict";
(function () {
  const body = document.getElementById("tickets");
  const live = document.getElementById("live-state");

  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const m = Math.floor(seconds / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0");
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
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
      row.className = "priority-" + t.priority;
      row.dataset.id = t.id;
      const link = document.createElement("a");
      link.href = "/tickets/" + t.id;
      link.textContent = t.id;
      cell(row, "").appendChild(link);
      [t.priority, t.status, minutes(t.waiting_seconds), t.reason].forEach(function (text) { cell(row, text); });
      const mood = cell(row, t.mood === "neutral" ? "" : t.mood);
      mood.className = "mood mood-" + t.mood;
      [t.language, t.channel, t.agent || "", t.last_message].forEach(function (text) { cell(row, text); });
      return row;
    });
    if (rows.length === 0) {
      const row = document.createElement("tr");
      row.className = "empty";
      const td = cell(row, "Nobody is waiting.");
      td.colSpan = 10;
      rows.push(row);
    }
    body.replaceChildren.apply(body, rows);
  }

  const events = new EventSource("/queue/events");
  events.onmessage = function (event) {
    const data = JSON.parse(event.data);
    if (data.error) { live.textContent = "queue unreachable: " + data.error; live.className = "live down"; return; }
    live.textContent = "live";
    live.className = "live";
    render(data);
  };
  events.onerror = function () { live.textContent = "reconnecting…"; live.className = "live down"; };
})();
