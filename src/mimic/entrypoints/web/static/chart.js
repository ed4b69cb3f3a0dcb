// The equity chart: GET /api/balance/history drawn with lightweight-charts (served locally).
"use strict";

async function drawEquity(holder) {
  const response = await fetch(holder.dataset.source, { credentials: "same-origin" });
  if (!response.ok) return;
  const snapshots = await response.json();
  const perHour = new Map(); // every connection's equity summed per hour
  for (const s of snapshots) {
    const time = Math.floor(Date.parse(s.hour) / 1000);
    if (Number.isFinite(time)) perHour.set(time, (perHour.get(time) || 0) + Number(s.equity));
  }
  const unique = [...perHour].map(([time, value]) => ({ time, value })).sort((a, b) => a.time - b.time);
  holder.textContent = "";
  if (unique.length === 0) {
    holder.textContent = "No equity history yet: it is recorded as balances sync.";
    return;
  }
  const chart = LightweightCharts.createChart(holder, {
    height: 220,
    autoSize: true,
    layout: { attributionLogo: false, background: { color: "#17202a" }, textColor: "#e6edf3" },
    grid: { vertLines: { color: "#2a3744" }, horzLines: { color: "#2a3744" } },
    timeScale: { timeVisible: true },
  });
  chart.addLineSeries({ priceFormat: { type: "price", precision: 2, minMove: 0.01 } }).setData(unique);
  chart.timeScale().fitContent();
}

for (const holder of document.querySelectorAll("[data-equity-chart]")) drawEquity(holder);
