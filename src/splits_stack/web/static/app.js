// Splits Network portal: drag pipeline cards between stages (persisted with a POST).
// Plain JavaScript; every card also keeps its no-JS "Move" form as a fallback.
(function () {
  "use strict";
  function refreshCounts(board) {
    board.querySelectorAll(".column").forEach(function (col) {
      col.querySelector(".count").textContent = col.querySelectorAll(".kcard").length;
    });
  }
  function move(card, column, board) {
    var stage = column.dataset.stage;
    var body = new URLSearchParams({ stage: stage });
    return fetch("/applications/" + card.dataset.app + "/move", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (res) {
      if (!res.ok) { return res.json().then(function (e) { throw new Error(e.detail || res.statusText); }); }
      column.querySelector(".cards").prepend(card);
      var select = card.querySelector("select");
      if (select) {
        Array.prototype.forEach.call(select.options, function (o) { o.hidden = o.value === stage; });
        select.value = Array.prototype.find.call(select.options, function (o) { return !o.hidden; }).value;
      }
      if (stage === "hired") { var f = card.querySelector("form"); if (f) { f.remove(); } card.draggable = false; }
      card.classList.add("flash-ok");
      setTimeout(function () { card.classList.remove("flash-ok"); }, 1200);
      refreshCounts(board);
    }).catch(function (err) { alert("Could not move " + card.dataset.name + ": " + err.message); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector("[data-board]");
    if (!board) { return; }
    var dragged = null;
    board.addEventListener("dragstart", function (e) {
      dragged = e.target.closest(".kcard");
      if (!dragged) { return; }
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.app);
    });
    board.addEventListener("dragend", function () {
      if (dragged) { dragged.classList.remove("dragging"); }
      board.querySelectorAll(".over").forEach(function (c) { c.classList.remove("over"); });
    });
    board.querySelectorAll(".column").forEach(function (col) {
      col.addEventListener("dragover", function (e) { e.preventDefault(); col.classList.add("over"); });
      col.addEventListener("dragleave", function () { col.classList.remove("over"); });
      col.addEventListener("drop", function (e) {
        e.preventDefault();
        col.classList.remove("over");
        if (dragged && dragged.closest(".column") !== col) { move(dragged, col, board); }
      });
    });
  });
})();
