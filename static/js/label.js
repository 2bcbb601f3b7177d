// Keyboard control of the labeling screen. Loaded as a static file (the CSP forbids inline
// script). Everything is delegated from `document`, so it keeps working after htmx swaps in
// the next item. The form also works without this script: it only sets inputs.
(function () {
  "use strict";

  var cursor = { response: 0, dim: 0 };
  var currentCode = null;
  var startedAt = performance.now();
  var hiddenAt = null;
  var hiddenMs = 0;

  function workspace() { return document.getElementById("workspace"); }
  function form() { return document.getElementById("judgment-form"); }
  function responses() { return Array.prototype.slice.call(document.querySelectorAll(".response")); }
  function rowsOf(response) { return Array.prototype.slice.call(response.querySelectorAll(".score-row")); }
  function activeResponse() { return responses()[cursor.response]; }

  function render() {
    responses().forEach(function (r, i) {
      r.classList.toggle("active", i === cursor.response);
      rowsOf(r).forEach(function (row, j) {
        row.classList.toggle("cursor", i === cursor.response && j === cursor.dim);
      });
    });
    var r = activeResponse();
    var row = r && rowsOf(r)[cursor.dim];
    if (row) { row.scrollIntoView({ block: "nearest" }); }
  }

  function clamp() {
    var n = responses().length;
    if (n === 0) { return; }
    cursor.response = Math.max(0, Math.min(n - 1, cursor.response));
    var dims = rowsOf(responses()[cursor.response]).length;
    cursor.dim = Math.max(0, Math.min(Math.max(dims - 1, 0), cursor.dim));
  }

  function move(dr, dd) {
    cursor.response += dr;
    cursor.dim += dd;
    clamp();
    render();
  }

  function advance() {
    var dims = rowsOf(activeResponse()).length;
    if (cursor.dim < dims - 1) {
      cursor.dim += 1;
    } else if (cursor.response < responses().length - 1) {
      cursor.response += 1;
      cursor.dim = 0;
    }
    render();
  }

  function setScore(value) {
    var r = activeResponse();
    var row = r && rowsOf(r)[cursor.dim];
    var input = row && row.querySelector('input[type=radio][value="' + value + '"]');
    if (!input) { return; }
    input.checked = true;
    advance();
  }

  function setRank(value) {
    var r = activeResponse();
    var select = r && r.querySelector("select[data-rank]");
    if (!select || !select.querySelector('option[value="' + value + '"]')) { return; }
    select.value = String(value);
    if (cursor.response < responses().length - 1) { cursor.response += 1; cursor.dim = 0; }
    render();
  }

  function toggleFlag(letter) {
    var r = activeResponse();
    var box = r && r.querySelector('input[data-flag-key="' + letter + '"]');
    if (box) { box.checked = !box.checked; }
    return Boolean(box);
  }

  function setStrength(letter) {
    var radio = document.querySelector('input[data-strength-key="' + letter + '"]');
    if (radio) { radio.checked = true; }
    return Boolean(radio);
  }

  function guidelinesOpen(open) {
    var panel = document.getElementById("guidelines");
    var ws = workspace();
    if (!panel || !ws) { return; }
    panel.hidden = !open;
    ws.classList.toggle("with-guidelines", open);
    try { sessionStorage.setItem("guidelines-open", open ? "1" : ""); } catch (e) { /* private mode */ }
  }

  function toggleGuidelines() {
    var panel = document.getElementById("guidelines");
    if (panel) { guidelinesOpen(panel.hidden); }
  }

  function elapsedMs() {
    var hidden = hiddenMs + (hiddenAt === null ? 0 : performance.now() - hiddenAt);
    return Math.max(0, Math.round(performance.now() - startedAt - hidden));
  }

  function submitJudgment() {
    var f = form();
    if (f) { f.requestSubmit(); }
  }

  // A new item resets the timer and the cursor; a re-render of the same item (errors) keeps them.
  function onNewContent() {
    var ws = workspace();
    if (!ws) { return; }
    var code = ws.getAttribute("data-assignment");
    if (code !== currentCode) {
      currentCode = code;
      cursor = { response: 0, dim: 0 };
      startedAt = performance.now();
      hiddenMs = 0;
      hiddenAt = document.hidden ? performance.now() : null;
    }
    var open = false;
    try { open = sessionStorage.getItem("guidelines-open") === "1"; } catch (e) { /* private mode */ }
    guidelinesOpen(open);
    clamp();
    render();
    if (document.activeElement && document.activeElement !== document.body &&
        ws.contains(document.activeElement) === false) {
      document.activeElement.blur();
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hiddenAt = performance.now();
    } else if (hiddenAt !== null) {
      hiddenMs += performance.now() - hiddenAt;
      hiddenAt = null;
    }
  });

  // Stamp the time spent just before the form is sent (capture runs before htmx's handler).
  document.addEventListener("submit", function (event) {
    if (event.target && event.target.id === "judgment-form") {
      var field = event.target.querySelector("input[data-elapsed]");
      if (field) { field.value = String(elapsedMs()); }
    }
  }, true);

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("[data-toggle-guidelines]");
    if (toggle) {
      event.preventDefault();
      toggleGuidelines();
      return;
    }
    var row = event.target.closest && event.target.closest(".score-row");
    var response = event.target.closest && event.target.closest(".response");
    if (response) {
      cursor.response = Number(response.getAttribute("data-response")) || 0;
      if (row) { cursor.dim = Number(row.getAttribute("data-dim")) || 0; }
      render();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!workspace() || event.altKey || event.metaKey) { return; }
    var t = event.target;
    var tag = t && t.tagName ? t.tagName.toLowerCase() : "";
    var typing = tag === "textarea" || (tag === "input" && /^(text|search|email|number)$/.test(t.type));

    if (typing) {
      if (event.key === "Escape") { t.blur(); event.preventDefault(); }
      if (event.key === "Enter" && event.ctrlKey && t.closest("#judgment-form")) {
        event.preventDefault();
        submitJudgment();
      }
      return;
    }
    if (tag === "select" && t.hasAttribute("data-skip")) {
      if (event.key === "Enter") { event.preventDefault(); t.form.requestSubmit(); }
      if (event.key === "Escape") { t.blur(); }
      return;
    }
    if (event.ctrlKey) { return; }
    if (!form()) { return; }

    var key = event.key;
    var handled = true;
    if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      setRank(Number(event.code.slice(5)));
    } else if (/^[1-7]$/.test(key)) {
      setScore(key);
    } else if (key === "ArrowLeft") {
      move(-1, 0);
    } else if (key === "ArrowRight") {
      move(1, 0);
    } else if (key === "ArrowUp") {
      move(0, -1);
    } else if (key === "ArrowDown") {
      move(0, 1);
    } else if (key === "Enter") {
      if (tag === "button" || tag === "a") { return; }
      submitJudgment();
    } else if (key === "/") {
      var box = document.querySelector("textarea[data-rationale]");
      if (box) { box.focus(); }
    } else if (key === "?") {
      toggleGuidelines();
    } else if (key === "S") {
      var skip = document.querySelector("select[data-skip]");
      if (skip) { skip.focus(); }
    } else if (key === "o") {
      var hidden = activeResponse() && activeResponse().querySelector("details[data-warning]:not([open]) summary");
      if (hidden) { hidden.click(); }
    } else if (key === "x") {
      var allBad = document.querySelector("input[data-all-bad]");
      if (allBad) { allBad.checked = !allBad.checked; }
    } else if (/^[a-z]$/.test(key)) {
      handled = setStrength(key) || toggleFlag(key);
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("htmx:afterSettle", onNewContent);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onNewContent);
  } else {
    onNewContent();
  }
})();
