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

// Live list: the server streams each new or changed row of this list (same filters, same
// rights) as the list's own row HTML. A changed row is replaced where it stands; new rows
// go on top when the agent is at the top of the list, otherwise they wait behind a
// "N new" banner so that nothing moves under the agent's eyes. EventSource resumes after
// a drop from the last position received (Last-Event-ID): nothing is missed.
(function () {
  "use strict";
  var tbody = document.getElementById("rows");
  if (!tbody || !tbody.dataset.live || !window.EventSource) { return; }
  var banner = document.getElementById("new-rows");
  var waiting = [];
  function atTop() {
    return tbody.getBoundingClientRect().top >= 0;
  }
  function parseRow(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  }
  function showBanner() {
    if (!banner) { return; }
    banner.hidden = waiting.length === 0;
    banner.textContent = waiting.length === 1 ? "1 new interaction" : waiting.length + " new interactions";
  }
  function insertWaiting() {
    var empty = document.querySelector("[data-testid=empty]");
    if (empty) { empty.hidden = true; }
    for (var i = 0; i < waiting.length; i++) {
      var old = tbody.querySelector('tr[data-id="' + CSS.escape(waiting[i].dataset.id) + '"]');
      if (old) { old.remove(); }
      waiting[i].classList.add("fresh");
      tbody.insertBefore(waiting[i], tbody.firstElementChild);
    }
    waiting = [];
    showBanner();
  }
  if (banner) {
    banner.addEventListener("click", function () {
      insertWaiting();
      tbody.scrollIntoView({ block: "start" });
    });
  }
  var es = new EventSource(tbody.dataset.live);
  es.addEventListener("upsert", function (e) {
    var row = parseRow(e.data);
    if (!row || !row.dataset.id) { return; }
    var old = tbody.querySelector('tr[data-id="' + CSS.escape(row.dataset.id) + '"]');
    if (old) {
      old.replaceWith(row);
      return;
    }
    waiting = waiting.filter(function (w) { return w.dataset.id !== row.dataset.id; });
    waiting.push(row);
    if (atTop()) { insertWaiting(); } else { showBanner(); }
  });
  window.addEventListener("scroll", function () {
    if (waiting.length && atTop()) { insertWaiting(); }
  }, { passive: true });
})();

// Live detail and card: the server tells an open page that what it shows changed (an
// event applied to the interaction, or to the customer's card as this agent may see it);
// the page reads itself again and swaps its content in place. While the agent is typing
// in a form or has a menu open, nothing is swapped under them: a notice offers the
// refresh instead. EventSource resumes after a drop from the last position received.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.changes || !window.EventSource || !window.fetch) { return; }
  var busy = false, pending = false;
  function engaged() {
    var a = document.activeElement;
    if (a && main.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName)) { return true; }
    return main.querySelector("details[open]") !== null;
  }
  function notice() {
    var n = document.getElementById("changed-notice");
    if (n) { n.hidden = false; return; }
    n = document.createElement("p");
    n.id = "changed-notice";
    n.className = "notice";
    n.setAttribute("role", "status");
    n.setAttribute("data-testid", "changed-notice");
    var link = document.createElement("a");
    link.href = window.location.href;
    link.textContent = "This page changed: refresh";
    n.appendChild(link);
    main.insertBefore(n, main.firstChild);
  }
  function refresh() {
    if (engaged()) { notice(); pending = true; return; }
    if (busy) { pending = true; return; }
    busy = true;
    pending = false;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        if (fresh) {
          main.innerHTML = fresh.innerHTML;
          if (window.htmx) { window.htmx.process(main); }
          main.dataset.updated = String(Number(main.dataset.updated || "0") + 1);
        }
      })
      .catch(function () { notice(); })
      .then(function () {
        busy = false;
        if (pending) { refresh(); }
      });
  }
  var es = new EventSource(main.dataset.changes);
  es.addEventListener("changed", refresh);
  document.addEventListener("focusout", function () {
    if (pending) { setTimeout(function () { if (pending && !engaged()) { refresh(); } }, 0); }
  });
})();
