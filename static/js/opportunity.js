// The opportunity chart: the current loan vs a refinance option, by month, with the break-even month marked.
// Data comes from the page (json_script "opportunity-chart-data"); without JavaScript the savings table and the
// summary sentence under the chart say the same.
(function () {
  "use strict";
  var canvas = document.getElementById("opportunity-chart");
  var source = document.getElementById("opportunity-chart-data");
  if (!canvas || !source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var controls = document.getElementById("chart-controls");
  var optionSelect = document.getElementById("chart-option");
  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
  var state = { metric: "balance", option: optionSelect ? optionSelect.value : "same" };

  // Draws a dashed vertical line at the break-even month of the selected option.
  var breakEven = {
    id: "breakEven",
    afterDatasetsDraw: function (chart) {
      var month = chart.options.plugins.breakEven.month;
      if (month === null || month === undefined) return;
      var x = chart.scales.x.getPixelForValue(month);
      var area = chart.chartArea;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#7a4b00";
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#7a4b00";
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("Break-even: month " + month, Math.min(x + 6, area.right - 130), area.top + 14);
      ctx.restore();
    },
  };

  function points(series) {
    return series.map(function (value, month) { return { x: month, y: Number(value) }; });
  }

  function datasets() {
    var option = data.options[state.option];
    return [
      { label: data.current.label, data: points(data.current[state.metric]), borderColor: "#a4161a",
        backgroundColor: "#a4161a", pointRadius: 0, borderWidth: 2 },
      { label: option.label, data: points(option[state.metric]), borderColor: "#0b5cad",
        backgroundColor: "#0b5cad", pointRadius: 0, borderWidth: 2, borderDash: [2, 0] },
    ];
  }

  function breakEvenMonth() {
    return data.options[state.option].break_even_month;
  }

  function describe() {
    var option = data.options[state.option];
    var what = state.metric === "balance" ? "Balance" : "Cumulative interest";
    var label = what + " of the current loan and of " + option.label + " by month";
    if (option.break_even_month) label += "; break-even at month " + option.break_even_month;
    canvas.setAttribute("aria-label", label);
  }

  var chart = new window.Chart(canvas, {
    type: "line",
    data: { datasets: datasets() },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { type: "linear", min: 0, max: data.months.length - 1, title: { display: true, text: "Months from today" },
             ticks: { stepSize: 60 } },
        y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } },
      },
      plugins: {
        breakEven: { month: breakEvenMonth() },
        tooltip: { callbacks: {
          title: function (items) { return "Month " + items[0].parsed.x; },
          label: function (item) { return item.dataset.label + ": " + money.format(item.parsed.y); },
        } },
      },
    },
    plugins: [breakEven],
  });
  describe();

  function update() {
    chart.data.datasets = datasets();
    chart.options.plugins.breakEven.month = breakEvenMonth();
    chart.update();
    describe();
  }

  if (controls) {
    controls.hidden = false;
    controls.addEventListener("change", function (event) {
      if (event.target.name === "chart-metric") state.metric = event.target.value;
      if (event.target === optionSelect) state.option = optionSelect.value;
      update();
    });
  }
})();
