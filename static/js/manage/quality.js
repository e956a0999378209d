/* Quality page: GET /projects/{id}/quality (agreement, consensus, annotators), the open flags and the rule
   firings; managers resolve flags, revert firings and recompute consensus (a job, with its progress). */
(function () {
  "use strict";
  const { api, apiAll, el, clear, fmt, pct, when, say, waitJob } = window.QM;
  const root = document.getElementById("quality");
  const projectId = root.dataset.project;
  const manage = root.dataset.manage === "1";
  const status = document.getElementById("quality-status");
  let report = null;

  function heatmap(confusion) {
    const box = clear(document.getElementById("confusion"));
    if (!confusion || !confusion.labels.length) { box.append(el("p", { class: "muted", text: "Not enough tasks with two or more answers yet." })); return; }
    const max = Math.max(1, ...confusion.counts.flat());
    const table = el("table", { class: "heatmap" });
    table.append(el("caption", { class: "visually-hidden", text: "Label pairs given by two annotators of the same task" }));
    table.append(el("thead", {}, el("tr", {}, [el("th", { text: "" }), ...confusion.labels.map((l) => el("th", { scope: "col", text: l }))])));
    const tbody = el("tbody");
    confusion.counts.forEach((row, i) => {
      tbody.append(el("tr", {}, [el("th", { scope: "row", text: confusion.labels[i] }), ...row.map((n, j) => {
        const cell = el("td", { text: n, title: `${confusion.labels[i]} / ${confusion.labels[j]}: ${n}` });
        const share = n / max;
        cell.style.background = `rgba(41, 82, 204, ${0.08 + share * 0.85})`;
        cell.style.color = share > 0.5 ? "#fff" : "#1d2330";
        return cell;
      })]));
    });
    table.append(tbody);
    box.append(table);
  }

  function showReport(r) {
    report = r;
    document.getElementById("q-agreement").textContent = pct(r.agreement.task_agreement_mean);
    document.getElementById("q-consensus-tasks").textContent = fmt(r.consensus.tasks);
    document.getElementById("q-confidence").textContent = pct(r.consensus.confidence_mean);
    document.getElementById("q-below").textContent = fmt(r.consensus.below_target);
    document.getElementById("q-flags").textContent = fmt(r.flags.open);
    const tbody = clear(document.querySelector("#agreement-table tbody"));
    const controls = Object.entries(r.agreement.per_control || {});
    if (!controls.length) tbody.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No single-choice controls to measure agreement on." })));
    for (const [name, entry] of controls) {
      tbody.append(el("tr", {}, [el("td", { text: name }), el("td", { class: "num", text: fmt(entry.tasks_with_two_or_more) }),
        el("td", { class: "num", text: fmt(entry.fleiss_kappa, 3) }), el("td", { class: "num", text: fmt(entry.krippendorff_alpha, 3) }),
        el("td", { class: "num", text: fmt(entry.cohen_kappa_mean, 3) })]));
    }
    const picker = clear(document.getElementById("confusion-control"));
    for (const [name] of controls) picker.append(el("option", { value: name, text: name }));
    heatmap(controls.length ? controls[0][1].confusion : null);
    const people = clear(document.querySelector("#annotators-table tbody"));
    if (!r.annotators.length) people.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "Nobody has annotated yet." })));
    for (const a of r.annotators) {
      const interval = a.accuracy === null ? "—" : `${pct(a.accuracy)} (${pct(a.accuracy_low)}–${pct(a.accuracy_high)})`;
      people.append(el("tr", {}, [el("td", { text: a.annotator }), el("td", { class: "num", text: fmt(a.annotations) }),
        el("td", { class: "num", text: fmt(a.gold_seen) }), el("td", { class: "num", text: interval }),
        el("td", { class: "num", text: pct(a.agreement_with_consensus) }),
        el("td", { class: "num", text: a.median_lead_time_ms === null ? "—" : `${(a.median_lead_time_ms / 1000).toFixed(1)} s` }),
        el("td", { class: "num", text: fmt(a.skips) }), el("td", { class: "num", text: fmt(a.weight) })]));
    }
  }

  async function loadFlags() {
    const flags = await apiAll(`/projects/${projectId}/flags?resolved=false&page_size=100`, 100);
    const tbody = clear(document.querySelector("#flags-table tbody"));
    if (!flags.length) tbody.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No open flags." })));
    for (const flag of flags) {
      const resolve = manage ? el("button", { type: "button", class: "secondary small", text: "Resolve", "aria-label": `Resolve flag ${flag.id}`,
        onclick: async () => {
          try { await api("POST", `/flags/${flag.id}/resolve`); say(status, `Flag ${flag.id} resolved.`, "ok"); await loadFlags(); }
          catch (err) { say(status, err.message, "error"); }
        } }) : null;
      tbody.append(el("tr", {}, [el("td", {}, el("span", { class: "badge", text: flag.kind })), el("td", { text: flag.task ? `#${flag.task}` : "—" }),
        el("td", { text: flag.annotator || flag.raised_by || "QA" }), el("td", { text: flag.reason }), el("td", {}, resolve)]));
    }
  }

  async function loadFirings() {
    const firings = await apiAll(`/projects/${projectId}/rule-firings?page_size=100`, 100);
    const tbody = clear(document.querySelector("#firings-table tbody"));
    if (!firings.length) tbody.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No rule has fired." })));
    for (const f of firings) {
      const revert = manage && !f.reverted_at ? el("button", { type: "button", class: "secondary small", text: "Revert", "aria-label": `Revert firing ${f.id}`,
        onclick: async () => {
          try { await api("POST", `/rule-firings/${f.id}/revert`); say(status, `Firing ${f.id} reverted.`, "ok"); await loadFirings(); }
          catch (err) { say(status, err.message, "error"); }
        } }) : (f.reverted_at ? el("span", { class: "badge", text: "reverted" }) : null);
      tbody.append(el("tr", {}, [el("td", { text: when(f.created_at) }), el("td", { text: f.annotator }), el("td", { text: `#${f.rule}` }),
        el("td", { text: f.action }), el("td", { class: "num", text: fmt(f.value, 3) }), el("td", {}, revert)]));
    }
  }

  async function load() {
    const r = await api("GET", `/projects/${projectId}/quality`);
    showReport(r);
    await Promise.all([loadFlags(), loadFirings()]);
    say(status, "", "");
  }

  document.getElementById("confusion-control").addEventListener("change", (event) => {
    if (report) heatmap((report.agreement.per_control[event.target.value] || {}).confusion);
  });
  const run = document.getElementById("consensus-run");
  if (run) {
    run.addEventListener("click", async () => {
      const bar = document.getElementById("consensus-progress");
      run.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      say(status, "Recomputing consensus…", "busy");
      try {
        const answer = await api("POST", `/projects/${projectId}/consensus`, { method: document.getElementById("consensus-method").value });
        const jobId = (answer.job && answer.job.id) || answer.id;
        const job = await waitJob(jobId, (j) => { bar.value = j.progress || 0; });
        if (job.status === "failed") throw new Error(job.error || "the consensus job failed");
        say(status, "Consensus recomputed.", "ok");
        await load();
      } catch (err) { say(status, err.message, "error"); }
      run.disabled = false;
      bar.hidden = true;
    });
  }
  load().catch((err) => say(status, err.message, "error"));
})();
