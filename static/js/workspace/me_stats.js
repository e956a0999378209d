/* My stats: GET /api/v1/me/stats rendered as figures, a per-project table and a weekly chart (Chart.js). */
(function () {
  "use strict";
  const el = Quorum.el;
  const fmt = Quorum.formatNumber;

  function percent(value) { return value === null || value === undefined ? "—" : fmt(value * 100, 1) + " %"; }
  function seconds(ms) { return ms === null || ms === undefined ? "—" : fmt(ms / 1000, 1) + " s"; }
  function stat(label, value, note) {
    return el("div", { class: "stat" }, el("div", { class: "value" }, value), el("div", { class: "label" }, label),
              note ? el("div", { class: "label" }, note) : null);
  }

  Quorum.api("GET", "/api/v1/me/stats").then(function (response) {
    const data = response.data;
    const o = data.overall;
    const quality = o.quality || {};
    document.querySelector("[data-overall]").replaceChildren(
      stat("Annotations", fmt(o.annotations, 0)),
      stat("Hours worked", fmt(o.hours_worked, 1)),
      stat("Per hour", fmt(o.throughput_per_hour, 1)),
      stat("Median time per task", seconds(o.lead_time && o.lead_time.p50_ms)),
      stat("Quality on checks", percent(quality.accuracy),
           quality.gold_seen ? quality.gold_correct + " of " + quality.gold_seen + " (until yesterday)" : "no checks yet"),
      stat("Agreement with consensus", percent(o.agreement && o.agreement.rate)),
      stat("Reviews accepted", percent(o.review && o.review.acceptance_rate),
           o.review && o.review.decided ? o.review.decided + " reviewed" : null),
      stat("Earned", (o.earnings || []).map(function (e) { return Quorum.money(e.amount, e.currency); }).join(", ") || "—"),
    );
    const body = document.querySelector("[data-per-project] tbody");
    body.replaceChildren();
    for (const p of data.projects) {
      body.append(el("tr", {},
        el("td", {}, p.name),
        el("td", { class: "num" }, fmt(p.annotations, 0)),
        el("td", { class: "num" }, percent(p.quality && p.quality.accuracy)),
        el("td", { class: "num" }, percent(p.agreement && p.agreement.rate)),
        el("td", { class: "num" }, (p.review.accepted + p.review.fixed) + " / " + p.review.rejected),
        el("td", { class: "num" }, seconds(p.lead_time_p50_ms))));
    }
    if (!data.projects.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted" }, "No work yet.")));
    const canvas = document.querySelector("[data-weekly-chart]");
    if (window.Chart && canvas) {
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: o.weeks.map(function (w) { return w.week; }),
                datasets: [{ label: "Submitted", data: o.weeks.map(function (w) { return w.submits; }), backgroundColor: "#2447b8" }] },
        options: { maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    document.querySelector("[data-loading]").hidden = true;
    document.querySelector("[data-stats]").hidden = false;
  }).catch(function (error) { document.querySelector("[data-loading]").hidden = true; Quorum.showError(error); });
})();
