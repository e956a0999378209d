/* Projects list: fill each row's counts from GET /projects/{id}/progress. */
(function () {
  "use strict";
  const { api, fmt } = window.QM;
  for (const row of document.querySelectorAll("tr[data-project]")) {
    api("GET", `/projects/${row.dataset.project}/progress`).then((p) => {
      const done = (p.counts.annotated || 0) + (p.counts.in_review || 0) + (p.counts.accepted || 0);
      row.querySelector("[data-field=tasks]").textContent = fmt(p.tasks);
      row.querySelector("[data-field=done]").textContent = fmt(done);
      row.querySelector("[data-field=annotations]").textContent = fmt(p.annotations);
      const bar = row.querySelector("[data-field=bar]");
      const wanted = p.annotations + p.remaining_annotations;
      bar.value = wanted ? p.annotations / wanted : 0;
    }).catch(() => {
      for (const cell of row.querySelectorAll("[data-field]")) if (cell.tagName === "TD") cell.textContent = "—";
    });
  }
})();
