// The pages work without scripts; htmx appends "load more" pages in place. This only
// moves the keyboard focus to the first row that a "load more" appended.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (e) {
    var rows = document.querySelectorAll("#rows > tr");
    e.detail.target.dataset.before = String(rows.length);
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    var before = Number(e.detail.target.dataset.before || "0");
    var first = document.querySelectorAll("#rows > tr")[before];
    var link = first && first.querySelector("a");
    if (link) { link.focus(); }
  });
})();
