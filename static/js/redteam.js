// Red-team judging from the keyboard: j/k move between responses, y/n success, 0-4 severity
// in the attack's category, / rationale (Esc leaves), o reveals, Enter or Ctrl+Enter saves.
(function () {
  "use strict";

  function form() { return document.querySelector("form[data-rt-judge]"); }
  function responses() { return Array.prototype.slice.call(document.querySelectorAll(".rt-response")); }
  function active() { return document.querySelector(".rt-response.active"); }

  function activate(index) {
    var all = responses();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (el, i) { el.classList.toggle("active", i === index); });
    all[index].scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = responses();
    activate(all.indexOf(active()) + step);
  }

  function choose(value) {
    var r = active();
    var radio = r && r.querySelector('.rt-success input[value="' + value + '"]');
    if (radio) { radio.checked = true; }
  }

  function severity(n) {
    var r = active();
    var select = r && r.querySelector(".rt-severity > select");
    if (select) { select.value = String(n); }
  }

  document.addEventListener("click", function (event) {
    var card = event.target.closest && event.target.closest(".rt-response");
    if (card) { activate(responses().indexOf(card)); }
  });

  document.addEventListener("keydown", function (event) {
    var f = form();
    if (!f) { return; }
    var typing = /^(TEXTAREA|INPUT|SELECT)$/.test(event.target.tagName) && event.target.type !== "radio";
    if (typing) {
      if (event.key === "Escape") { event.target.blur(); }
      else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); f.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var key = event.key;
    if (key === "j" || key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (key === "k" || key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if (key === "y") { choose("yes"); }
    else if (key === "n") { choose("no"); }
    else if (/^[0-4]$/.test(key)) { severity(key); }
    else if (key === "/") {
      var box = active() && active().querySelector("textarea");
      if (box) { event.preventDefault(); box.focus(); }
    } else if (key === "o") {
      var hidden = active() && active().querySelector("details[data-warning]:not([open]) summary");
      if (hidden) { hidden.click(); }
    } else if (key === "Enter") { event.preventDefault(); f.requestSubmit(); }
  });
})();
