// teiten report: chart tooltips and the print button. No network, no innerHTML.
(function () {
  "use strict";
  var tip = document.getElementById("tooltip");
  function show(ev) {
    var g = ev.target.closest ? ev.target.closest("[data-tip]") : null;
    if (!g) { tip.hidden = true; return; }
    tip.textContent = g.getAttribute("data-tip");
    tip.hidden = false;
    var x = (ev.touches ? ev.touches[0].clientX : ev.clientX) + 12;
    var y = (ev.touches ? ev.touches[0].clientY : ev.clientY) + 12;
    var w = tip.offsetWidth;
    if (x + w > window.innerWidth - 4) { x = Math.max(4, window.innerWidth - w - 4); }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  var charts = document.querySelectorAll("svg.chart");
  for (var i = 0; i < charts.length; i++) {
    charts[i].addEventListener("mousemove", show);
    charts[i].addEventListener("touchstart", show, { passive: true });
    charts[i].addEventListener("mouseleave", function () { tip.hidden = true; });
    // The <title> children would show a second, native tooltip next to ours.
    var titles = charts[i].querySelectorAll("g.tip > title");
    for (var j = 0; j < titles.length; j++) { titles[j].remove(); }
  }
  var btn = document.getElementById("print-btn");
  if (btn) { btn.addEventListener("click", function () { window.print(); }); }
  document.documentElement.setAttribute("data-ready", "1");
})();
