/* Exports page: start an export (POST /projects/{id}/exports), follow GET /exports/{id} until it ends, then
   offer its signed download_url; lists the project's exports and snapshots. */
(function () {
  "use strict";
  const { api, apiAll, el, clear, fmt, when, say } = window.QM;
  const projectId = document.getElementById("exports").dataset.project;
  const form = document.getElementById("export-form");
  const status = document.getElementById("export-status");
  const box = document.getElementById("export-progress-box");
  const bar = document.getElementById("export-progress");
  const label = document.getElementById("export-progress-label");
  const start = document.getElementById("export-start");

  function size(bytes) {
    if (bytes === null || bytes === undefined) return "—";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1048576) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${(bytes / 1048576).toFixed(1)} MiB`;
  }

  function downloadLink(exp) {
    if (exp.status !== "succeeded" || !exp.download_url) return null;
    return el("a", { class: "button", href: exp.download_url, download: exp.file_name || "", "data-export": exp.id,
      text: "Download", "aria-label": `Download export ${exp.id} (${exp.format})` });
  }

  async function loadExports() {
    const rows = await apiAll(`/projects/${projectId}/exports?page_size=50`, 50);
    const tbody = clear(document.querySelector("#exports-table tbody"));
    if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No exports yet." })));
    for (const exp of rows) {
      tbody.append(el("tr", { "data-export-row": exp.id }, [el("td", { class: "num", text: exp.id }), el("td", { text: exp.format }),
        el("td", {}, [el("span", { class: "badge " + exp.status, text: exp.status }), exp.error ? el("div", { class: "field-error", text: exp.error }) : null]),
        el("td", { text: exp.snapshot ? `#${exp.snapshot}` : "—" }), el("td", { class: "num", text: size(exp.size) }),
        el("td", {}, exp.checksum ? el("code", { text: exp.checksum.slice(0, 16) + "…", title: exp.checksum }) : "—"),
        el("td", { text: when(exp.created_at) }), el("td", {}, downloadLink(exp))]));
    }
  }

  async function loadSnapshots() {
    const rows = await apiAll(`/projects/${projectId}/snapshots?page_size=50`, 50);
    const tbody = clear(document.querySelector("#snapshots-table tbody"));
    const picker = document.getElementById("export-snapshot");
    const chosen = picker.value;
    while (picker.options.length > 1) picker.remove(1);
    if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No snapshots yet: every export makes one." })));
    for (const s of rows) {
      const split = Object.entries(s.split || {}).map(([k, v]) => `${k} ${Math.round(v * 100)}%`).join(", ") || "—";
      const counts = Object.entries(s.counts || {}).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
      tbody.append(el("tr", {}, [el("td", { class: "num", text: s.id }), el("td", { text: s.filter }), el("td", { text: split }),
        el("td", { class: "num", text: s.seed }), el("td", { text: counts || "—" }),
        el("td", {}, s.checksum ? el("code", { text: s.checksum.slice(0, 12) + "…", title: s.checksum }) : "—"),
        el("td", { text: s.created_by || "—" }), el("td", { text: when(s.created_at) })]));
      picker.append(el("option", { value: s.id, text: `#${s.id} · ${s.filter} · ${when(s.created_at)}`, selected: String(s.id) === chosen }));
    }
  }

  async function follow(exportId) {
    for (;;) {
      const exp = await api("GET", `/exports/${exportId}`);
      bar.value = exp.progress || 0;
      label.textContent = `Export #${exp.id} (${exp.format}): ${exp.status}, ${Math.round((exp.progress || 0) * 100)}%`;
      if (exp.status === "succeeded" || exp.status === "failed") return exp;
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const split = {};
    for (const part of ["train", "val", "test"]) {
      const value = Number(data.get(part));
      if (value > 0) split[part] = value;
    }
    const total = Object.values(split).reduce((a, b) => a + b, 0);
    if (total && Math.abs(total - 1) > 1e-6) { say(status, `The shares add up to ${total.toFixed(2)}; they must add up to 1.`, "error"); return; }
    const body = { format: data.get("format"), filter: data.get("filter"), seed: Number(data.get("seed") || 0),
      include_gold: data.get("include_gold") === "on" };
    if (Object.keys(split).length) body.split = split;
    if (data.get("snapshot")) body.snapshot = Number(data.get("snapshot"));
    start.disabled = true;
    box.hidden = false;
    bar.value = 0;
    say(status, "Starting the export…", "busy");
    try {
      const started = await api("POST", `/projects/${projectId}/exports`, body);
      await loadExports();
      const done = await follow(started.id);
      if (done.status === "failed") throw new Error(done.error || "the export failed");
      clear(status).append(`Export #${done.id} is ready (${size(done.size)}). `);
      status.dataset.kind = "ok";
      const link = downloadLink(done);
      if (link) { link.id = "export-download"; status.append(link); }
      await Promise.all([loadExports(), loadSnapshots()]);
    } catch (err) {
      say(status, err.message, "error");
      loadExports().catch(() => {});
    } finally {
      start.disabled = false;
    }
  });

  Promise.all([loadExports(), loadSnapshots()]).catch((err) => say(status, err.message, "error"));
})();
