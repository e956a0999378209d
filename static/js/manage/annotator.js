/* One annotator's page: profile and stats (GET /workforce/annotators/{id}), weekly performance, ledger;
   a manager sets the status, skill levels and pools (PATCH /workforce/annotators/{id}). */
(function () {
  "use strict";
  const { api, apiAll, el, clear, fmt, pct, when, say } = window.QM;
  const memberId = document.getElementById("annotator").dataset.member;
  const status = document.getElementById("an-status");
  let skills = [];

  async function load() {
    const [a, allSkills, pools] = await Promise.all([api("GET", `/workforce/annotators/${memberId}`),
      apiAll("/workforce/skills?page_size=200", 1000), apiAll("/workforce/pools?page_size=200", 1000)]);
    skills = allSkills;
    document.getElementById("an-state").textContent = a.status;
    document.getElementById("an-annotations").textContent = fmt(a.stats.annotations);
    document.getElementById("an-accuracy").textContent = a.stats.accuracy === null ? "—" : `${pct(a.stats.accuracy)}`;
    document.getElementById("an-time").textContent = a.stats.mean_lead_time_ms === null ? "—" : `${(a.stats.mean_lead_time_ms / 1000).toFixed(1)} s`;
    document.getElementById("an-new-status").value = a.status;
    const sus = clear(document.getElementById("an-suspensions"));
    if (!a.suspensions.length) sus.append(el("li", { class: "muted", text: "None." }));
    for (const s of a.suspensions) sus.append(el("li", { text: `${s.kind || "suspension"}${s.project ? " in project #" + s.project : " everywhere"} until ${when(s.until)}: ${s.reason || ""}` }));
    const skillBox = clear(document.getElementById("an-skills"));
    for (const s of skills) {
      const id = `skill-${s.id}`;
      skillBox.append(el("label", { for: id, text: `${s.name} (0–100, empty = none)` }),
        el("input", { id, type: "number", min: 0, max: 100, "data-skill": s.name, value: a.skills[s.name] === undefined ? "" : a.skills[s.name] }));
    }
    if (!skills.length) skillBox.append(el("p", { class: "muted", text: "The organization has no skills yet." }));
    const poolBox = clear(document.getElementById("an-pools"));
    for (const p of pools) {
      const id = `pool-${p.id}`;
      poolBox.append(el("label", { for: id }, [el("input", { id, type: "checkbox", "data-pool": p.id, checked: a.pools.includes(p.id) }), ` ${p.name}`]));
    }
    if (!pools.length) poolBox.append(el("p", { class: "muted", text: "No pools yet." }));
  }

  async function loadPerformance() {
    const report = await api("GET", `/workforce/annotators/${memberId}/performance`);
    const tbody = clear(document.querySelector("#an-perf tbody"));
    if (!(report.weeks || []).length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No work yet." })));
    for (const w of report.weeks) {
      tbody.append(el("tr", {}, [el("td", { text: w.week }), el("td", { class: "num", text: fmt(w.submits) }), el("td", { class: "num", text: fmt(w.hours_worked) }),
        el("td", { class: "num", text: fmt(w.throughput_per_hour) }), el("td", { class: "num", text: pct(w.accuracy) }), el("td", { class: "num", text: pct(w.review_acceptance_rate) })]));
    }
    const ledger = await api("GET", `/workforce/ledger?annotator=${memberId}&page_size=50`);
    const lBody = clear(document.querySelector("#an-ledger tbody"));
    if (!ledger.results.length) lBody.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No entries." })));
    for (const e of ledger.results) {
      lBody.append(el("tr", {}, [el("td", { class: "num", text: e.id }), el("td", { text: when(e.created_at) }), el("td", { text: e.kind }),
        el("td", { class: "num", text: `${e.amount} ${e.currency}` }), el("td", { text: e.project ? `#${e.project}` : "—" }), el("td", { text: e.note || "" })]));
    }
  }

  async function patch(body, done) {
    try {
      await api("PATCH", `/workforce/annotators/${memberId}`, body);
      say(status, done, "ok");
      await load();
    } catch (err) {
      const details = Object.entries(err.details || {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("; ");
      say(status, details ? `${err.message} (${details})` : err.message, "error");
    }
  }

  document.getElementById("status-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { status: document.getElementById("an-new-status").value };
    const reason = document.getElementById("an-reason").value.trim();
    if (reason) body.reason = reason;
    patch(body, `Status set to ${body.status}.`);
  });
  document.getElementById("skills-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const levels = {};
    for (const input of document.querySelectorAll("[data-skill]")) levels[input.dataset.skill] = input.value === "" ? null : Number(input.value);
    const chosen = [...document.querySelectorAll("[data-pool]")].filter((b) => b.checked).map((b) => Number(b.dataset.pool));
    patch({ skills: levels, pools: chosen }, "Skills and pools saved.");
  });
  load().then(loadPerformance).catch((err) => say(status, err.message, "error"));
})();
