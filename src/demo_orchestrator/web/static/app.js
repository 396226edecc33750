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

  // Copy: the Clipboard API exists only in secure contexts (https, localhost); on a plain-http
  // host it is undefined, so a selected textarea and execCommand("copy") do it. "Copied" only
  // when one of them worked; otherwise the text is left selected for the person to copy.
  function copyByTextarea(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed"; area.style.top = "0"; area.style.left = "0"; area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
    document.body.removeChild(area);
    return copied;
  }
  function showToCopy(button, text) {
    let field = button.parentNode.querySelector("input.copy-manual");
    if (!field) {
      field = document.createElement("input");
      field.className = "copy-manual"; field.readOnly = true; field.setAttribute("aria-label", "Link to copy");
      button.insertAdjacentElement("afterend", field);
    }
    field.value = text; field.focus(); field.select();
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const text = button.dataset.copy;
    const label = button.dataset.label || (button.dataset.label = button.textContent);
    const say = function (what) {
      button.textContent = what; button.dataset.copied = what === "Copied" ? "yes" : "no";
      setTimeout(function () { button.textContent = label; }, 2500);
    };
    const fallback = function () {
      if (copyByTextarea(text)) { say("Copied"); } else { showToCopy(button, text); say("Press Ctrl+C"); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say("Copied"); }, fallback);
    } else {
      fallback();
    }
  });

  // A notice after a post (?notice=...) is for that moment: drop it from the address so a
  // reload does not show it again, and make one about work in progress follow the live status.
  function forgetNotice() {
    const url = new URL(window.location.href);
    if (!url.searchParams.has("notice") && !url.searchParams.has("error")) return;
    url.searchParams.delete("notice"); url.searchParams.delete("error");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  function noticeFollows(status) {
    const notice = document.querySelector("#notice[data-follows-status]");
    if (!notice || status === "pending" || status === "provisioning") return;
    if (status === "ready") { notice.textContent = "Demo environment is ready"; }
    else { notice.remove(); }
  }

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
      noticeFollows(data.status);
      if (finalStates.indexOf(data.status) >= 0 && data.status !== table.dataset.state) {
        source.close();
        setTimeout(reloadUnlessSubmitting, 300);
      }
    });
    source.addEventListener("snapshot", function (message) {
      const data = JSON.parse(message.data);
      noticeFollows(data.status);
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
    forgetNotice(); tick(); setInterval(tick, 1000); liveSteps(); refreshList();
  });
})();
