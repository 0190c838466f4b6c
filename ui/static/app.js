// Small niceties on top of htmx. DOM text only through textContent; nothing parsed as HTML or run from a string (CSP: script-src 'self').
// "/" focuses the header search box; editing an absolute time switches the range picker to
// "absolute"; "copy" buttons copy the text of the element they name.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
    var box = document.getElementById("jump-q");
    if (box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input || !input.matches || !input.matches("input[data-range-absolute]")) return;
    var form = input.form;
    var select = form && form.querySelector("select[name=range]");
    if (select) select.value = "custom";
  });
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
    });
  });
})();
