// Fetches the overview's figures again every few seconds, in place.
(function () {
  const panel = document.getElementById("overview-panel");
  if (!panel) return;
  const every = 1000 * Number(panel.dataset.refresh || 30);
  async function refresh() {
    try {
      const response = await fetch(panel.dataset.src, { credentials: "same-origin" });
      if (response.ok) {
        panel.innerHTML = await response.text();
        panel.classList.remove("stale");
      } else {
        panel.classList.add("stale");
      }
    } catch (error) {
      panel.classList.add("stale");  // the console restarting: try again later
    }
  }
  setInterval(refresh, every);
})();
