// The rep's tour panel (web/tour.py): collapsed until the rep opens it (a demo is often screen-shared,
// and the talking points are the rep's), then remembered per tab once opened or closed.
// Keyboard: the summary toggles with Enter or Space; Escape closes it and returns focus.
(function () {
  "use strict";
  var panel = document.querySelector("[data-rep-tour]");
  if (!panel) { return; }
  var KEY = "splits-tour-open";
  var saved = null;
  try { saved = window.sessionStorage.getItem(KEY); } catch (e) { saved = null; }
  panel.open = saved === "1";
  panel.addEventListener("toggle", function () {
    try { window.sessionStorage.setItem(KEY, panel.open ? "1" : "0"); } catch (e) { /* private mode */ }
  });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && panel.open) {
      panel.open = false;
      panel.querySelector("summary").focus();
    }
  });
  var current = panel.querySelector(".rep-tour-step.current");
  if (current && panel.open) { current.scrollIntoView({ block: "nearest" }); }
})();
