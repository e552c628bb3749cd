// crmkit serve: keyboard shortcuts and error messages. No library but the vendored htmx.
(function () {
  "use strict";
  // a = match, r = no match, s = skip, n = next item: each clicks the element marked data-key="<key>".
  // "/" focuses the customer search. Keys typed into a field (the note) are text, not shortcuts.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.key === "/") {
      var find = document.getElementById("find");
      if (find) { event.preventDefault(); find.focus(); }
      return;
    }
    var control = document.querySelector('[data-key="' + event.key + '"]');
    if (control && !control.matches(":disabled")) {
      event.preventDefault();
      control.click();
    }
  });
  // A request that failed without an answer (the server stopped): say so where messages go.
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (flash) flash.innerHTML = '<p class="message error">The crmkit server does not answer: is crmkit serve still running?</p>';
  });
  // A successful swap clears an earlier error message.
  document.addEventListener("htmx:afterSwap", function (event) {
    var flash = document.getElementById("flash");
    if (flash && event.detail.target && event.detail.target.id !== "flash") flash.innerHTML = "";
  });
})();
