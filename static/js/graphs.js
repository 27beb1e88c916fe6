/* Draws the usage graphs with uPlot (static/vendor/uplot) from the JSON the graphs fragment
   carries (templates/metrics/graphs.html): one chart per [data-chart], sized to its box and
   redrawn when the box changes (a phone turned, a window resized). Without this script the
   fragment's table shows the same numbers. */
(function () {
  "use strict";

  var COLOURS = ["#1f5fbf", "#d9480f", "#2b8a3e"];
  var PREFIXES = ["", "Ki", "Mi", "Gi", "Ti"];
  var HEIGHT = 180;

  function binary(value) {
    var scaled = value;
    var prefix = 0;
    while (Math.abs(scaled) >= 1024 && prefix < PREFIXES.length - 1) {
      scaled /= 1024;
      prefix += 1;
    }
    return (prefix ? scaled.toFixed(1) : scaled.toFixed(0)) + " " + PREFIXES[prefix];
  }

  function tick(value, unit) {
    if (unit === "bytes/s") return binary(value) + "B/s";
    if (unit === "MiB") return value >= 1024 ? (value / 1024).toFixed(1) + " GiB" : value.toFixed(0) + " MiB";
    if (unit === "%") return value.toFixed(value < 10 ? 1 : 0) + " %";
    return String(Math.round(value * 100) / 100);
  }

  // Tick steps in binary units (1 KiB/s, 2 KiB/s, 512 MiB, 1 GiB...) rather than uPlot's
  // decimal ones, so an axis reads 512 MiB, not 488.3 MiB.
  var BINARY_STEPS = [];
  [1, 1024, 1048576, 1073741824].forEach(function (scale) {
    [1, 2, 4, 8, 16, 32, 64, 128, 256, 512].forEach(function (n) { BINARY_STEPS.push(n * scale); });
  });

  function plotOptions(chart, width) {
    var series = [{}];
    chart.series.forEach(function (s, index) {
      series.push({
        label: s.label,
        stroke: COLOURS[index % COLOURS.length],
        width: 1.5,
        fill: index === 0 ? COLOURS[0] + "1f" : undefined,
        spanGaps: false,
        value: function (u, v) { return v == null ? "—" : tick(v, chart.unit); },
      });
    });
    return {
      width: width,
      height: HEIGHT,
      series: series,
      scales: {
        y: {
          range: function (u, min, max) {
            var top = max == null || max <= 0 ? 1 : max * 1.1;
            if (chart.unit === "%") top = Math.min(Math.max(top, 5), 100);
            return [0, top];
          },
        },
      },
      axes: [
        {},
        {
          // Each tick carries its unit (the chart's caption names it too).
          size: 84,
          incrs: chart.unit === "bytes/s" || chart.unit === "MiB" ? BINARY_STEPS : undefined,
          values: function (u, splits) { return splits.map(function (v) { return tick(v, chart.unit); }); },
        },
      ],
    };
  }

  function draw(container) {
    if (container.dataset.drawn || typeof window.uPlot === "undefined") return;
    var source = document.getElementById(container.dataset.graphs);
    if (!source) return;
    container.dataset.drawn = "1";
    var payload = JSON.parse(source.textContent);
    payload.charts.forEach(function (chart) {
      var box = container.querySelector('[data-chart="' + chart.name + '"]');
      if (!box) return;
      var data = [payload.data.times].concat(
        chart.series.map(function (s) { return payload.data.series[s.key] || []; })
      );
      var plot = new window.uPlot(plotOptions(chart, box.clientWidth || 320), data, box);
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          if (box.clientWidth && box.clientWidth !== plot.width) plot.setSize({ width: box.clientWidth, height: HEIGHT });
        }).observe(box);
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("[data-graphs]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
