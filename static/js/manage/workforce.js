/* Workforce page: annotators (filtered), pools and skills (add), exams, this month's statements and the
   latest ledger entries, all from the /workforce/ API. */
(function () {
  "use strict";
  const { api, apiAll, el, clear, fmt, pct, when, say } = window.QM;
  const status = document.getElementById("wf-status");
  let pools = [];
  let skillNames = {};

  function empty(tbody, cols, text) { tbody.append(el("tr", {}, el("td", { colspan: cols, class: "muted", text }))); }

  async function loadAnnotators() {
    const form = new FormData(document.getElementById("ann-filter"));
    const params = new URLSearchParams({ page_size: "200" });
    for (const key of ["status", "pool", "skill"]) if (form.get(key)) params.set(key, form.get(key));
    const rows = await apiAll(`/workforce/annotators?${params}`, 1000);
    const names = Object.fromEntries(pools.map((p) => [p.id, p.name]));
    const tbody = clear(document.querySelector("#annotators-table tbody"));
    if (!rows.length) empty(tbody, 7, "Nobody matches.");
    for (const a of rows) {
      const skills = Object.entries(a.skills || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "—";
      tbody.append(el("tr", {}, [
        el("td", {}, [el("a", { href: `/app/workforce/annotators/${a.id}/`, text: a.name || a.email }), a.name ? el("div", { class: "muted", text: a.email }) : null]),
        el("td", { text: a.role }), el("td", {}, el("span", { class: "badge " + a.status, text: a.status })),
        el("td", { text: skills }), el("td", { text: (a.pools || []).map((id) => names[id] || `#${id}`).join(", ") || "—" }),
        el("td", { class: "num", text: fmt(a.stats.annotations) }), el("td", { class: "num", text: pct(a.stats.accuracy) })]));
    }
  }

  async function loadPools() {
    pools = await apiAll("/workforce/pools?page_size=200", 1000);
    const tbody = clear(document.querySelector("#pools-table tbody"));
    if (!pools.length) empty(tbody, 3, "No pools yet.");
    const picker = document.getElementById("ann-pool");
    while (picker.options.length > 1) picker.remove(1);
    for (const p of pools) {
      tbody.append(el("tr", {}, [el("td", { text: p.name }), el("td", { class: "num", text: fmt(p.member_count) }), el("td", { text: p.description || "—" })]));
      picker.append(el("option", { value: p.id, text: p.name }));
    }
  }

  async function loadSkills() {
    const skills = await apiAll("/workforce/skills?page_size=200", 1000);
    skillNames = Object.fromEntries(skills.map((s) => [s.id, s.name]));
    const tbody = clear(document.querySelector("#skills-table tbody"));
    if (!skills.length) empty(tbody, 3, "No skills yet.");
    const picker = document.getElementById("ann-skill");
    while (picker.options.length > 1) picker.remove(1);
    for (const s of skills) {
      tbody.append(el("tr", {}, [el("td", { text: s.name }), el("td", {}, el("code", { text: `skill.${s.name}` })), el("td", { text: s.description || "—" })]));
      picker.append(el("option", { value: s.name, text: s.name }));
    }
  }

  async function loadExams() {
    const exams = await apiAll("/workforce/exams?page_size=200", 1000);
    const tbody = clear(document.querySelector("#exams-table tbody"));
    if (!exams.length) empty(tbody, 8, "No exams yet.");
    for (const x of exams) {
      tbody.append(el("tr", {}, [el("td", { text: x.name }), el("td", { text: x.kind }), el("td", { text: x.project ? `#${x.project}` : "—" }),
        el("td", { class: "num", text: fmt(x.tasks_total) }), el("td", { text: x.skill ? `${skillNames[x.skill] || "skill #" + x.skill} → ${x.skill_level}` : "—" }),
        el("td", { class: "num", text: pct(x.pass_threshold) }), el("td", { class: "num", text: fmt(x.max_attempts) }), el("td", { text: x.active ? "yes" : "no" })]));
    }
  }

  async function loadPay() {
    const statements = await api("GET", "/workforce/statements");
    const sBody = clear(document.querySelector("#statements-table tbody"));
    if (!statements.results.length) empty(sBody, 8, "Nothing earned this month yet.");
    for (const s of statements.results) {
      sBody.append(el("tr", {}, [el("td", { text: s.email }), el("td", { text: s.currency }),
        ...["submitted", "accepted", "hourly", "bonus", "reversal", "net"].map((k) => el("td", { class: "num", text: s[k] }))]));
    }
    const page = await api("GET", "/workforce/ledger?page_size=25");
    const lBody = clear(document.querySelector("#ledger-table tbody"));
    if (!page.results.length) empty(lBody, 7, "No ledger entries yet.");
    for (const e of page.results) {
      lBody.append(el("tr", {}, [el("td", { class: "num", text: e.id }), el("td", { text: when(e.created_at) }), el("td", { text: e.annotator_email }),
        el("td", { text: e.kind }), el("td", { class: "num", text: `${e.amount} ${e.currency}` }), el("td", { text: e.project ? `#${e.project}` : "—" }),
        el("td", { text: e.note || "" })]));
    }
  }

  function creator(formId, path, reload, what) {
    const form = document.getElementById(formId);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      try {
        await api("POST", path, { name: data.get("name"), description: data.get("description") || "" });
        say(status, `${what} “${data.get("name")}” added.`, "ok");
        form.reset();
        await reload();
      } catch (err) {
        const details = Object.entries(err.details || {}).map(([k, v]) => `${k}: ${[].concat(v).join(", ")}`).join("; ");
        say(status, details ? `${err.message} (${details})` : err.message, "error");
      }
    });
  }

  document.getElementById("ann-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    loadAnnotators().catch((err) => say(status, err.message, "error"));
  });
  creator("pool-form", "/workforce/pools", loadPools, "Pool");
  creator("skill-form", "/workforce/skills", loadSkills, "Skill");
  (async () => {
    await Promise.all([loadPools(), loadSkills()]);
    await Promise.all([loadAnnotators(), loadExams(), loadPay()]);
  })().catch((err) => say(status, err.message, "error"));
})();
