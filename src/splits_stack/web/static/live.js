// Splits Network demo: what changes while a page is open (web/live.py).
// 1. The end-of-demo notice: counts down from what the server rendered, resyncs from
//    /__demo/lifetime, shows from the first warning lead time, can be made a small chip but not
//    hidden, and reloads the page when the demo has ended (the router then shows who to contact).
// 2. Live stage changes: server-sent events from /__demo/events move a card on a job's pipeline
//    board and update the stage on "My applications", without a reload. Tolerant: a page without
//    those elements ignores the events. Plain JavaScript, no framework.
(function () {
  "use strict";
  var STAGES = ["applied", "screening", "interview", "offer", "hired"];
  var RELOADED_KEY = "splits-demo-ended-reload";
  var COMPACT_KEY = "splits-demo-ending-compact";

  function store(kind) { try { return window[kind]; } catch (e) { return null; } }

  // ---- the end-of-demo notice ----------------------------------------------------------------
  function Ending(el) {
    this.el = el;
    this.text = el.querySelector("[data-ending-text]");
    this.toggle = el.querySelector("[data-ending-toggle]");
    this.set({
      seconds_left: el.dataset.secondsLeft === "" ? null : Number(el.dataset.secondsLeft),
      warn_seconds: el.dataset.warnSeconds === "" ? null : Number(el.dataset.warnSeconds),
      ended: el.dataset.ended === "true"
    });
    var session = store("sessionStorage");
    if (session && session.getItem(COMPACT_KEY) === "1") { this.compact(true); }
    var self = this;
    if (this.toggle) {
      this.toggle.addEventListener("click", function () {
        self.compact(!self.el.classList.contains("compact"));
        if (session) { session.setItem(COMPACT_KEY, self.el.classList.contains("compact") ? "1" : "0"); }
      });
    }
  }
  Ending.prototype.set = function (state) {
    this.left = typeof state.seconds_left === "number" ? state.seconds_left : null;
    this.warnAt = typeof state.warn_seconds === "number" ? state.warn_seconds : null;
    this.ended = !!state.ended;
    this.syncedAt = Date.now();
  };
  Ending.prototype.compact = function (on) {
    this.el.classList.toggle("compact", on);
    if (this.toggle) {
      this.toggle.textContent = on ? "+" : "\u2013";
      this.toggle.setAttribute("aria-label", on ? "Show the full notice" : "Make this notice smaller");
      this.toggle.title = on ? "Show" : "Make smaller";
    }
  };
  Ending.prototype.secondsLeft = function () {
    if (this.left === null) { return null; }
    return Math.max(0, this.left - (Date.now() - this.syncedAt) / 1000);
  };
  Ending.prototype.render = function () {
    var left = this.secondsLeft();
    if (this.ended || left === 0) { this.end(); return; }
    if (left === null || this.warnAt === null || left > this.warnAt) { this.el.hidden = true; return; }
    var words = left >= 60 ? Math.ceil(left / 60) + " min" : "less than a minute";
    var bold = this.text.querySelector("[data-ending-left]");
    if (!bold) {
      this.text.innerHTML = '<span class="demo-ending-lead">This demo ends in </span><b data-ending-left></b>';
      bold = this.text.querySelector("[data-ending-left]");
    }
    bold.textContent = words;
    this.el.classList.toggle("urgent", left < 120);
    this.el.hidden = false;
  };
  Ending.prototype.end = function () {
    this.el.hidden = false;
    this.el.classList.add("ended");
    this.text.textContent = "This demo has ended";
    if (this.reloading) { return; }
    this.reloading = true;
    // Reload once: the router then answers with its "This demo has ended" page. Should the demo
    // still answer (no router in front), stay here rather than reload for ever.
    var session = store("sessionStorage");
    var last = session ? Number(session.getItem(RELOADED_KEY) || 0) : 0;
    if (Date.now() - last > 60000) {
      if (session) { session.setItem(RELOADED_KEY, String(Date.now())); }
      window.location.reload();
    }
  };
  Ending.prototype.sync = function () {
    var self = this;
    var url = this.el.dataset.lifetimeUrl;
    if (!url || !window.fetch) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        // 410: the router answers for a demo that has ended (deleted before its time, say).
        if (res.status === 410) { self.ended = true; self.render(); return null; }
        var kind = res.headers.get("content-type") || "";
        if (!res.ok || kind.indexOf("json") < 0) { return null; }
        return res.json();
      })
      .then(function (state) { if (state) { self.set(state); self.render(); } })
      .catch(function () { /* the orchestrator or the network is away: keep counting */ });
  };
  Ending.prototype.start = function () {
    var self = this;
    this.render();
    window.setInterval(function () { self.render(); }, 1000);
    function schedule() {
      // Every 30 s while something is known (the stack reads the orchestrator at most that
      // often), every 60 s while nothing is.
      window.setTimeout(function () {
        if (document.visibilityState !== "hidden") { self.sync(); }  // a background tab waits
        schedule();
      }, self.left === null ? 60000 : 30000);
    }
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { self.sync(); }
    });
  };

  // ---- live stage changes --------------------------------------------------------------------
  function label(data) { return data.stage_label || data.stage; }

  function setStageClass(el, stage) {
    el.className = el.className.replace(/\bstage-[a-z_]+\b/g, "").trim() + " stage-" + stage;
  }

  function flash(el) {
    el.classList.add("live-updated");
    window.setTimeout(function () { el.classList.remove("live-updated"); }, 2500);
  }

  function updateMyApplication(section, data) {
    section.querySelectorAll("[data-stage]").forEach(function (badge) {
      badge.dataset.stage = data.stage;
      badge.textContent = label(data);
      setStageClass(badge, data.stage);
    });
    var progress = section.querySelector(".progress");
    if (progress) {
      var reached = data.stage === "hired" ? STAGES.length - 1 : STAGES.indexOf(data.stage);
      var items = progress.querySelectorAll("li:not(.rejected)");
      if (reached >= 0) {
        items.forEach(function (li, i) { li.classList.toggle("done", i <= reached); });
      }
      var rejected = progress.querySelector("li.rejected");
      if (data.stage === "rejected" && !rejected) {
        rejected = document.createElement("li");
        rejected.className = "rejected";
        rejected.textContent = "Not selected";
        progress.appendChild(rejected);
      } else if (data.stage !== "rejected" && rejected) {
        rejected.remove();
      }
    }
    flash(section);
  }

  function updateBoardCard(card, data) {
    var board = card.closest("[data-board]");
    if (!board) { return; }
    var from = card.closest(".column");
    var to = board.querySelector('.column[data-stage="' + data.stage + '"]');
    if (to === from) { return; }  // already there (this page made the move)
    if (to) {
      to.querySelector(".cards").prepend(card);
      var select = card.querySelector("select");
      if (select) {
        Array.prototype.forEach.call(select.options, function (o) { o.hidden = o.value === data.stage; });
        var first = Array.prototype.find.call(select.options, function (o) { return !o.hidden; });
        if (first) { select.value = first.value; }
      }
      if (data.stage === "hired") {
        var form = card.querySelector("form");
        if (form) { form.remove(); }
        card.draggable = false;
      }
      flash(card);
    } else {
      card.remove();  // a stage this board has no column for (rejected)
    }
    board.querySelectorAll(".column").forEach(function (col) {
      var count = col.querySelector(".count");
      if (count) { count.textContent = col.querySelectorAll(".kcard").length; }
    });
  }

  function updateCandidatePage(data) {
    // The portal's candidate page lists their applications by job: the badge beside the job.
    if (window.location.pathname !== "/candidates/" + data.candidate_id) { return; }
    document.querySelectorAll('a[href="/jobs/' + data.job_id + '"]').forEach(function (link) {
      var badge = link.parentElement && link.parentElement.querySelector(".badge[class*='stage-']");
      if (!badge) { return; }
      badge.textContent = label(data);
      setStageClass(badge, data.stage);
      flash(badge);
    });
  }

  function onStage(data) {
    var id = String(data.application_id);
    updateCandidatePage(data);
    document.querySelectorAll('[data-application="' + id + '"]').forEach(function (section) {
      updateMyApplication(section, data);
    });
    document.querySelectorAll('.kcard[data-app="' + id + '"]').forEach(function (card) {
      updateBoardCard(card, data);
    });
  }

  // A tab left in the background lets go of its stream after a while (each stream holds a
  // connection, and a process serves a bounded number); it opens one again when shown.
  var HIDDEN_GRACE_MS = 5 * 60 * 1000;

  function listen(url, ending) {
    if (!url || !window.EventSource) { return; }
    var root = document.documentElement;
    var source = null;
    var pause = null;
    function open() {
      if (pause) { window.clearTimeout(pause); pause = null; }
      if (source) { return; }
      var mine = new EventSource(url);
      source = mine;
      mine.addEventListener("hello", function () { root.dataset.live = "open"; });
      mine.addEventListener("stage", function (e) {
        try { onStage(JSON.parse(e.data)); } catch (err) { /* a malformed event changes nothing */ }
      });
      mine.addEventListener("bye", function () { root.dataset.live = "reconnecting"; });
      mine.addEventListener("error", function () {
        if (mine !== source) { return; }
        root.dataset.live = mine.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
        if (mine.readyState === EventSource.CLOSED) { source = null; ending.sync(); }  // ended?
      });
    }
    function close() {
      if (source) { source.close(); source = null; root.dataset.live = "paused"; }
    }
    open();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        if (!pause) { pause = window.setTimeout(close, HIDDEN_GRACE_MS); }
      } else {
        open();
      }
    });
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", function (e) { if (e.persisted) { open(); } });  // back
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector("[data-demo-ending]");
    if (!el) { return; }
    var ending = new Ending(el);
    ending.start();
    listen(el.dataset.eventsUrl, ending);
  });
})();
