// Relais' web chat on a brand's site (bot/console/webchat.py). One tag:
//   <script src="https://RELAIS/embed.js" async></script>
// optional data-lang="fr|en" (default: the page's <html lang>).
// A button opens a panel framing RELAIS/chat?embed=1: the page's styles and
// scripts never reach the chat, nor the chat's the page.
(function () {
  "use strict";
  if (window.__relaisChat) return; // pasted twice: one chat
  window.__relaisChat = true;
  var CONFIG = {{ config | safe }};
  var script = document.currentScript ||
    document.querySelector('script[src$="/embed.js"]');
  var origin = new URL(script.src, window.location.href).origin;
  var asked = (script.getAttribute("data-lang") ||
    document.documentElement.lang || "fr").slice(0, 2).toLowerCase();
  var lang = CONFIG.texts[asked] ? asked : "fr";
  var words = CONFIG.texts[lang];

  function start() {
    var host = document.createElement("div");
    host.id = "relais-chat";
    document.body.appendChild(host);
    var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;
    var style = document.createElement("style");
    style.textContent =
      ":host { all: initial; }" +
      ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;" +
      "  font: 600 16px/1.2 system-ui, sans-serif; padding: 12px 18px; border: 0;" +
      "  border-radius: 24px; cursor: pointer; box-shadow: 0 2px 10px rgba(0,0,0,.3);" +
      "  background: " + CONFIG.colours.brand + "; color: " + CONFIG.colours.text + "; }" +
      ".launcher:focus-visible, .close:focus-visible { outline: 3px solid #ffbf47;" +
      "  outline-offset: 2px; }" +
      ".panel { position: fixed; right: 20px; bottom: 80px; z-index: 2147483000;" +
      "  width: min(380px, calc(100vw - 40px)); height: min(600px, calc(100vh - 110px));" +
      "  border-radius: 12px; overflow: hidden; box-shadow: 0 4px 24px rgba(0,0,0,.35);" +
      "  background: #fff; }" +
      ".panel[hidden] { display: none; }" +
      "iframe { border: 0; width: 100%; height: 100%; display: block; }";
    root.appendChild(style);

    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.textContent = words.open;
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "relais-panel");
    var panel = document.createElement("div");
    panel.className = "panel";
    panel.id = "relais-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", words.panel);
    var frame = null;
    var ready = false;

    function open() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.title = words.panel;
        frame.src = origin + "/chat?embed=1&lang=" + lang;
        panel.appendChild(frame);
      }
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      focusChat();
    }
    // The message box takes the focus: at once when the chat is loaded,
    // else when it says it is ready.
    function focusChat() {
      // Focused while still blank, the frame keeps the focus on the element
      // but not in the chat that replaced the blank page: blur, then focus.
      if (root.activeElement === frame) frame.blur();
      frame.focus();
      if (ready) frame.contentWindow.postMessage({relais: "focus"}, origin);
    }
    function close() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }
    launcher.addEventListener("click", function () {
      if (panel.hidden) open(); else close();
    });
    root.appendChild(panel);
    root.appendChild(launcher);
    // The chat asks to close (its close button, or Escape inside it).
    window.addEventListener("message", function (event) {
      if (event.origin !== origin || !event.data) return;
      if (event.data.relais === "close") close();
      if (event.data.relais === "ready") {
        ready = true;
        if (!panel.hidden) focusChat();
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !panel.hidden) close();
    });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
