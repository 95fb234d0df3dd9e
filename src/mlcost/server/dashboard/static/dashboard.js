// Draws every <canvas data-chart="ID"> from the JSON in <script type="application/json" id="ID">:
// {"kind": "stacked-bar" | "bar" | "line", "labels": [...], "series": [{"name", "data": [numbers]}],
//  "currency": "USD"}, series in drawing order. Data comes from the server; nothing is fetched.
(function () {
  "use strict";
  const palette = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
  ];
  const fixed = {
    gpu_used: "#59a14f", gpu_idle: "#e15759", gpu_unmeasured: "#bab0ac",
    gpu_unallocated: "#edc948", "other teams": "#bab0ac", "(unallocated)": "#d3d3d3",
  };
  const labels = {
    gpu_used: "used", gpu_idle: "idle", gpu_unmeasured: "unmeasured", gpu_unallocated: "unallocated",
  };
  function money(value, currency) {
    return value.toLocaleString(undefined, { maximumFractionDigits: 0 }) + " " + currency;
  }
  function draw(canvas) {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const kind = spec.kind || "stacked-bar";
    const stacked = kind === "stacked-bar";
    const datasets = spec.series.map(function (s, i) {
      const color = fixed[s.name] || palette[i % palette.length];
      return {
        label: labels[s.name] || s.name, data: s.data, backgroundColor: color, borderColor: color,
        fill: false, pointRadius: 0, borderWidth: kind === "line" ? 2 : 0,
      };
    });
    new Chart(canvas, {
      type: kind === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: stacked },
          y: {
            stacked: stacked, beginAtZero: true,
            title: { display: true, text: spec.currency },
            ticks: { callback: function (v) { return money(v, ""); } },
          },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (c) { return c.dataset.label + ": " + money(c.parsed.y, spec.currency); },
            },
          },
        },
      },
    });
  }
  document.querySelectorAll("canvas[data-chart]").forEach(draw);
})();
