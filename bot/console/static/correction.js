// The corrections pages (bot/console/corrections.py).
// Drafting: the message's first line follows "what changed" as it is typed,
// until the editor changes that line by hand.
// Sending: the counts follow the server's event stream while the job runs;
// when it ends the page reloads to show how it ended.
"use strict";
(function () {
  const form = document.getElementById("correction-draft");
  if (form) {
    const changed = document.getElementById("changed");
    ["fr", "en"].forEach(function (lang) {
      const area = document.getElementById("text-" + lang);
      const intro = form.dataset["intro" + lang.charAt(0).toUpperCase() + lang.slice(1)];
      let written = intro.replace("{changed}", "");
      changed.addEventListener("input", function () {
        const lines = area.value.split("\n");
        if (lines[0] !== written) return;  // the editor wrote their own
        written = intro.replace("{changed}", changed.value.trim());
        lines[0] = written;
        area.value = lines.join("\n");
      });
    });
  }

  const panel = document.getElementById("sending");
  const state = document.getElementById("job-state");
  if (!panel || state.dataset.state !== "running") return;
  const source = new EventSource(panel.dataset.events);
  source.onmessage = function (event) {
    const progress = JSON.parse(event.data);
    if (progress.error) return;
    Object.keys(progress.counts).forEach(function (outcome) {
      const row = panel.querySelector('[data-outcome="' + outcome + '"] .count');
      if (row) row.textContent = progress.counts[outcome];
    });
    if (progress.job !== "running") {
      source.close();
      window.location.reload();
    }
  };
})();
