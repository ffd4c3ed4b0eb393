// The topic page: the web chat preview follows the form, and the lint's
// verdict comes back as the editor types (POST …/lint, CSRF token included).
// Everything typed is inserted as text, never as HTML.
"use strict";
(function () {
  const form = document.getElementById("topic-form");
  if (!form) return;
  const lint = document.getElementById("lint");
  const pairs = [
    ["answer_fr", "preview-answer-fr"], ["answer_en", "preview-answer-en"],
    ["title_fr", "preview-title-fr"], ["title_en", "preview-title-en"],
  ];

  function preview() {
    pairs.forEach(function (pair) {
      const field = form.elements.namedItem(pair[0]);
      const target = document.getElementById(pair[1]);
      if (field && target) target.textContent = field.value;
    });
  }

  function item(kind, text) {
    const li = document.createElement("li");
    li.className = kind;
    li.textContent = text;
    return li;
  }

  let timer = null;
  let asked = 0;
  function check() {
    const mine = ++asked;
    fetch(form.dataset.lint, {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (verdict) {
        if (mine !== asked) return;  // a later check is on its way
        lint.replaceChildren();
        verdict.problems.forEach(function (p) { lint.appendChild(item("error", p)); });
        verdict.findings.forEach(function (f) { lint.appendChild(item(f.level, f.level + ": " + f.message)); });
        if (!lint.children.length) lint.appendChild(item("ok", window.relaisWords.text("No problem found.")));
      })
      .catch(function () {
        if (mine !== asked) return;
        lint.replaceChildren(item("warning", window.relaisWords.text("The lint could not be reached; it runs again when you save.")));
      });
  }

  form.addEventListener("input", function () {
    preview();
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 400);
  });
  preview();
  check();
})();
