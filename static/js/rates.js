/* Rates page: history chart of the series the organization uses, with the portfolio's trigger lines.
   Data comes from the json_script block "rates-chart-data"; Chart.js 4 is vendored (no CDN). */
(function () {
  "use strict";
  var holder = document.getElementById("rates-chart-data");
  var canvas = document.getElementById("rates-chart");
  if (!holder || !canvas || typeof Chart === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  var palette = ["#0b5cad", "#a4161a", "#146c2e", "#7a4b00", "#5b2a86", "#00707a", "#b3541e", "#3d4b5c", "#8a1c7c", "#4a7a00"];
  var day = function (iso) { return Date.parse(iso + "T00:00:00Z"); };
  var fmt = function (ms) { return new Date(ms).toISOString().slice(0, 10); };
  var minX = Infinity, maxX = -Infinity;
  var datasets = data.series.map(function (s, i) {
    var points = s.points.map(function (p) { return { x: day(p[0]), y: Number(p[1]) }; });
    points.forEach(function (p) { minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x); });
    return {
      label: s.code, data: points, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length],
      borderWidth: 1.5, pointRadius: points.length < 5 ? 3 : 0, tension: 0, parsing: false, spanGaps: true
    };
  });
  if (isFinite(minX)) {
    data.triggers.forEach(function (t, i) {
      var y = Number(t.value);
      datasets.push({
        label: t.label, data: [{ x: minX, y: y }, { x: maxX, y: y }], parsing: false,
        borderColor: palette[(i + 3) % palette.length], borderDash: [6, 4], borderWidth: 1, pointRadius: 0
      });
    });
  }
  new Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false, normalized: true,
      interaction: { mode: "nearest", intersect: false, axis: "x" },
      scales: {
        x: { type: "linear", ticks: { callback: function (v) { return fmt(v); }, maxTicksLimit: 10 } },
        y: { title: { display: true, text: "Rate (%)" }, ticks: { callback: function (v) { return v.toFixed(2) + "%"; } } }
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 14 } },
        tooltip: { callbacks: {
          title: function (items) { return items.length ? fmt(items[0].parsed.x) : ""; },
          label: function (item) { return item.dataset.label + ": " + item.parsed.y.toFixed(3) + "%"; }
        } }
      }
    }
  });
})();
