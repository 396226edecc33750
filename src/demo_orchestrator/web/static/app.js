// Small progressive enhancements for the orchestrator's pages: live countdowns, copy buttons,
// confirmations, live provisioning steps (server-sent events) and a self-refreshing list.
(function () {
  "use strict";

  function left(ms) {
    if (ms <= 0) return "expired";
    const s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (h ? "" : (s % 60) + " s") + " left";
  }
  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      el.textContent = left(new Date(el.dataset.expires).getTime() - Date.now());
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    const done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, done); } else { done(); }
  });

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });
  // A form on its way (a click on Delete, say) wins over the live page's own reload.
  let submitting = false;
  document.addEventListener("submit", function (event) {
    if (!event.defaultPrevented) submitting = true;
  });
  function reloadUnlessSubmitting() {
    if (!submitting) window.location.reload();
  }

  function liveSteps() {
    const table = document.getElementById("steps");
    if (!table || !window.EventSource) return;
    const finalStates = ["ready", "failed", "deleted", "rejected"];
    const source = new EventSource(table.dataset.events);
    source.addEventListener("step", function (message) {
      const data = JSON.parse(message.data);
      const row = table.querySelector('[data-step="' + data.step + '"]');
      if (!row) return;
      row.className = "st-" + data.status;
      row.querySelector(".label").textContent = data.status.replace("_", " ");
      row.querySelector(".msg").textContent = data.error || data.message || "";
    });
    source.addEventListener("status", function (message) {
      const data = JSON.parse(message.data);
      const badge = document.querySelector("#status-badge .badge");
      if (badge) { badge.className = "badge s-" + data.status; badge.textContent = data.status.replace("_", " "); }
      if (finalStates.indexOf(data.status) >= 0 && data.status !== table.dataset.state) {
        source.close();
        setTimeout(reloadUnlessSubmitting, 300);
      }
    });
    source.addEventListener("snapshot", function (message) {
      const data = JSON.parse(message.data);
      if (data.status !== table.dataset.state && finalStates.indexOf(data.status) >= 0) {
        source.close();
        reloadUnlessSubmitting();
      }
    });
  }

  function refreshList() {
    const table = document.querySelector("table[data-refresh]");
    if (!table) return;
    const busy = ["pending", "provisioning", "deleting"];
    setInterval(function () {
      const moving = Array.prototype.some.call(table.querySelectorAll("tr[data-state]"), function (row) {
        return busy.indexOf(row.dataset.state) >= 0;
      });
      if (!moving) return;
      fetch(window.location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("table[data-refresh] tbody");
        if (fresh) { table.querySelector("tbody").replaceWith(fresh); tick(); }
      });
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 1000); liveSteps(); refreshList();
  });
})();
