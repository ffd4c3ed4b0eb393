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
