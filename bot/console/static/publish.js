// The editors' page: a publish's progress, followed from the server's event
// stream until it ends; then the page reloads to show the publishes table
// (the panel keeps the finished publish's steps and log).
"use strict";
(function () {
  const panel = document.getElementById("job");
  if (!panel || panel.dataset.state !== "running") return;
  const lines = document.getElementById("job-lines");
  const state = document.getElementById("job-state");
  const detail = document.getElementById("job-detail");
  const cancel = document.getElementById("job-cancel-form");
  const source = new EventSource(panel.dataset.events);
  source.onmessage = function (event) {
    const job = JSON.parse(event.data);
    if (job.error) return;
    lines.textContent = job.lines;
    lines.scrollTop = lines.scrollHeight;
    state.textContent = job.outcome || job.state;
    detail.textContent = job.detail;
    cancel.hidden = !job.cancellable;
    job.steps.forEach(function (step) {
      const item = panel.querySelector('[data-step="' + step.name + '"]');
      if (item) item.className = step.done ? "done" : (step.current ? "current" : "");
    });
    panel.dataset.state = job.state;
    if (job.state !== "running") {
      source.close();
      window.location.reload();
    }
  };
})();
