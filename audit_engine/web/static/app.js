// Keyboard shortcuts: any element with data-key="x" is clicked when x is pressed, unless the
// focus is in a text field (then Alt+x). Elements with data-focus-key="x" are focused instead.
// No inline scripts anywhere: the Content-Security-Policy allows only this file.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey) { return; }
    var key = ev.key && ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (typing(document.activeElement) && !ev.altKey) { return; }
    var focus = document.querySelector('[data-focus-key="' + key + '"]');
    if (focus) { ev.preventDefault(); focus.focus(); return; }
    var target = document.querySelector('[data-key="' + key + '"]');
    if (target && !target.disabled) { ev.preventDefault(); target.click(); }
  });
  // A decision button fills the form's hidden "decision" field, then submits once the reason is there.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-decision]") : null;
    if (!btn) { return; }
    var form = btn.form || document.getElementById(btn.getAttribute("form"));
    if (!form) { return; }
    var field = form.querySelector('input[name="decision"]');
    if (field) { field.value = btn.getAttribute("data-decision"); }
    var reason = form.querySelector('[name="reason"]');
    if (reason && !reason.value.trim()) {
      ev.preventDefault();
      reason.focus();
      reason.setAttribute("aria-invalid", "true");
      form.setAttribute("data-pending", btn.getAttribute("data-decision"));
    }
  });
})();
// QC queue: j / k move the selection through rows with data-href, Enter opens the selected row;
// a click anywhere on such a row opens it; filter selects (data-autosubmit) apply on change.
(function () {
  "use strict";
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-href]")); }
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) { return; }
    var list = rows();
    if (!list.length) { return; }
    var cur = list.findIndex(function (r) { return r.classList.contains("sel"); });
    if (ev.key === "j" || ev.key === "k") {
      ev.preventDefault();
      var next = cur < 0 ? 0 : Math.max(0, Math.min(list.length - 1, cur + (ev.key === "j" ? 1 : -1)));
      if (cur >= 0) { list[cur].classList.remove("sel"); }
      list[next].classList.add("sel");
      list[next].scrollIntoView({block: "nearest"});
    } else if (ev.key === "Enter" && cur >= 0 && !(document.activeElement && document.activeElement.closest && document.activeElement.closest("a, button"))) {
      ev.preventDefault();
      window.location.href = list[cur].getAttribute("data-href");
    }
  });
  document.addEventListener("click", function (ev) {
    if (ev.target.closest("a, button, input, select, textarea")) { return; }
    var row = ev.target.closest("tr[data-href]");
    if (row) { window.location.href = row.getAttribute("data-href"); }
  });
  document.addEventListener("change", function (ev) {
    if (ev.target.matches && ev.target.matches("select[data-autosubmit]") && ev.target.form) { ev.target.form.submit(); }
  });
  var first = rows()[0];
  if (first && !document.querySelector("tr.sel")) { first.classList.add("sel"); }
})();
