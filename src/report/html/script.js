// Filters: one checkbox per outcome group and a text box; a group with nothing shown hides.
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[data-filter]"));
  var search = document.getElementById("search");
  var items = Array.prototype.slice.call(document.querySelectorAll("details.item"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));
  function apply() {
    var shown = {};
    boxes.forEach(function (b) { shown[b.getAttribute("data-filter")] = b.checked; });
    var q = search.value.trim().toLowerCase();
    items.forEach(function (el) {
      var hit = q === "" || el.getAttribute("data-search").indexOf(q) >= 0;
      el.hidden = !shown[el.getAttribute("data-outcome")] || !hit;
    });
    groups.forEach(function (g) {
      var all = g.querySelectorAll("details.item").length;
      var shown = g.querySelectorAll("details.item:not([hidden])").length;
      g.hidden = shown === 0;
      g.querySelector("h2 .n").textContent = shown === all ? String(all) : shown + " of " + all;
    });
  }
  boxes.forEach(function (b) { b.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  function openAll(open) {
    items.forEach(function (el) { if (!el.hidden) { el.open = open; } });
  }
  document.getElementById("expand").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { openAll(false); });
  // A link to an item (#item-ID) opens it.
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === "DETAILS") { el.hidden = false; el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  // Images show small; a click shows one at full width.
  Array.prototype.forEach.call(document.querySelectorAll("figure img"), function (img) {
    img.addEventListener("click", function () { img.classList.toggle("zoom"); });
  });
  openTarget();
  apply();
})();
