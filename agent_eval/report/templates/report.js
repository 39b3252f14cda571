(function () {
  "use strict";
  var list = document.getElementById("cases");
  if (!list) { return; }
  var rows = Array.prototype.slice.call(list.querySelectorAll("details.case"));
  var chips = Array.prototype.slice.call(document.querySelectorAll(".chip[data-status]"));
  var tagSelect = document.getElementById("tag-filter");
  var search = document.getElementById("search");
  var counter = document.getElementById("shown");
  var texts = null;

  function pressed() {
    return chips.filter(function (c) { return c.getAttribute("aria-pressed") === "true"; })
      .map(function (c) { return c.getAttribute("data-status"); });
  }

  var ENTITIES = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&#34;": "\"", "&quot;": "\"", "&#39;": "'", "&#x27;": "'" };
  var details = null;

  function detailHtml(row) {
    // Every case's escaped HTML sits in one inert JSON block, one case per line; a case's
    // line is parsed when that case is first needed, so opening one row stays cheap.
    if (details === null) {
      var block = document.getElementById("case-details");
      details = block ? block.textContent.split("\n") : [];
    }
    var slot = row.querySelector(".slot");
    var line = slot ? details[+slot.getAttribute("data-i") + 2] : undefined;  // +2: "" and "["
    if (typeof line !== "string") { return ""; }
    return JSON.parse(line.charAt(line.length - 1) === "," ? line.slice(0, -1) : line);
  }

  function fullText(i) {
    // A case's detail text is read only once a long query asks for it.
    if (texts === null) { texts = new Array(rows.length); }
    if (texts[i] === undefined) {
      var text = detailHtml(rows[i]).replace(/<[^>]*>/g, " ")
        .replace(/&lt;|&gt;|&amp;|&#34;|&quot;|&#39;|&#x27;/g, function (e) { return ENTITIES[e]; });
      texts[i] = (rows[i].querySelector("summary").textContent + " " + text).toLowerCase();
    }
    return texts[i];
  }

  function paint(pre, segments) {
    // Text nodes only: the outputs are untrusted and never become markup.
    var frag = document.createDocumentFragment();
    segments.forEach(function (s) {
      if (s[0] === "eq") { frag.appendChild(document.createTextNode(s[1])); return; }
      var mark = document.createElement(s[0]);
      mark.textContent = s[1];
      frag.appendChild(mark);
    });
    pre.textContent = "";
    pre.appendChild(frag);
  }

  function markDiffs(slot) {
    Array.prototype.forEach.call(slot.querySelectorAll(".sbs[data-diff]"), function (box) {
      var pres = box.querySelectorAll("pre");
      var diff = pres.length === 2 ? wordDiff(pres[0].textContent, pres[1].textContent) : null;
      if (diff === null) {
        var note = document.createElement("p");
        note.className = "note";
        note.textContent = "Too many changes to mark word by word: shown without a word diff.";
        box.parentNode.insertBefore(note, box.nextSibling);
        return;
      }
      paint(pres[0], diff.old);
      paint(pres[1], diff.new);
    });
  }

  function fill(row) {
    var slot = row.querySelector(".slot");
    if (slot && !slot.hasChildNodes()) {
      slot.innerHTML = detailHtml(row);
      markDiffs(slot);
    }
  }

  list.addEventListener("toggle", function (e) {
    if (e.target && e.target.classList && e.target.classList.contains("case") && e.target.open) { fill(e.target); }
  }, true);

  function apply() {
    var statuses = pressed();
    var tag = tagSelect ? tagSelect.value : "";
    var query = search ? search.value.trim().toLowerCase() : "";
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = statuses.length === 0 || statuses.indexOf(row.getAttribute("data-status")) >= 0;
      if (ok && tag) { ok = (" " + row.getAttribute("data-tags") + " ").indexOf(" " + tag + " ") >= 0; }
      if (ok && query) {
        var key = row.getAttribute("data-key");
        ok = key.indexOf(query) >= 0 || (query.length >= 3 && fullText(i).indexOf(query) >= 0);
      }
      row.hidden = !ok;
      if (ok) { shown++; }
    }
    if (counter) { counter.textContent = shown + " of " + rows.length + " cases"; }
  }

  chips.forEach(function (chip) {
    chip.addEventListener("click", function () {
      var on = chip.getAttribute("aria-pressed") === "true";
      chip.setAttribute("aria-pressed", on ? "false" : "true");
      apply();
    });
  });
  var reset = document.getElementById("reset-filters");
  if (reset) {
    reset.addEventListener("click", function () {
      chips.forEach(function (c) { c.setAttribute("aria-pressed", "false"); });
      if (tagSelect) { tagSelect.value = ""; }
      if (search) { search.value = ""; }
      apply();
    });
  }
  if (tagSelect) { tagSelect.addEventListener("change", apply); }
  var timer = null;
  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(apply, 120);
    });
  }
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && search && document.activeElement !== search) {
      e.preventDefault();
      search.focus();
    }
  });
  function toggleAll(open) {
    rows.forEach(function (r) { if (!r.hidden) { r.open = open; } });
  }
  var expand = document.getElementById("expand-all");
  var collapse = document.getElementById("collapse-all");
  if (expand) { expand.addEventListener("click", function () { toggleAll(true); }); }
  if (collapse) { collapse.addEventListener("click", function () { toggleAll(false); }); }
  apply();
  document.documentElement.setAttribute("data-ready", "1");
})();
