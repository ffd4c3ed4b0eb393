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
    // A duration as the queue shows it: "12 min", "2 h 05".
    minutes: function (seconds) {
      if (seconds === null || seconds === undefined) return "–";
      const m = Math.floor(seconds / 60);
      return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0");
    },
    code: function (kind, value) {
      if (value === null || value === undefined) return "";
      const word = words.codes[kind + "." + value];
      return word === undefined ? String(value).replace(/_/g, " ") : word;
    },
  };
})();
