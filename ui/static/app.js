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
  // After htmx swaps the span panel, mark the selected waterfall row.
  document.addEventListener("htmx:afterSettle", function (event) {
    var panel = document.getElementById("span-panel");
    if (!panel || !event.target || !(event.target === panel || event.target.contains(panel))) return;
    var selected = panel.getAttribute("data-span-id");
    var rows = document.querySelectorAll(".wf-row[data-span-id]");
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle("selected", rows[i].getAttribute("data-span-id") === selected);
    }
  });
})();
// Live tail: records pushed by the server become table rows, built node by node.
(function () {
  "use strict";
  var body = document.getElementById("tail-rows");
  if (!body || !window.EventSource) return;
  var status = document.getElementById("tail-status");
  var source = new EventSource(body.getAttribute("data-stream"));
  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }
  source.onopen = function () { if (status) status.textContent = "Live"; };
  source.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
  source.addEventListener("failure", function (event) {
    if (status) status.textContent = "Error: " + event.data;
    source.close();
  });
  source.onmessage = function (event) {
    var record = JSON.parse(event.data);
    var row = document.createElement("tr");
    cell(row, record.time, "mono nowrap");
    cell(row, record.severity, record.severity_class);
    var service = cell(row, "", "");
    var chip = document.createElement("span");
    chip.className = "chip " + record.service_class;
    chip.textContent = record.service;
    service.appendChild(chip);
    cell(row, record.body, "mono");
    var links = cell(row, "", "");
    if (record.trace) {
      var anchor = document.createElement("a");
      anchor.setAttribute("href", record.trace);
      anchor.textContent = "trace";
      links.appendChild(anchor);
    }
    body.insertBefore(row, body.firstChild);
    while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
  };
})();
// Waterfall: a click on a row selects its span; only the arrow folds the subtree (without
// this script, a click anywhere on a row folds it, as <summary> does).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var row = target.closest(".waterfall .wf-row");
    if (!row || target.closest(".twisty") || target.closest("a")) return;
    event.preventDefault();
    var link = row.querySelector("a.span-link");
    if (link) link.click();
  });
})();
