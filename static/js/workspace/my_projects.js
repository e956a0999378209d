/* "My projects": fills each row with my progress from GET /api/v1/me/projects. */
(function () {
  "use strict";
  const table = document.querySelector("[data-my-projects]");
  if (!table) return;
  Quorum.api("GET", "/api/v1/me/projects?page_size=1000").then(function (response) {
    for (const project of response.data.results) {
      const row = table.querySelector('tr[data-project="' + project.id + '"]');
      if (!row) continue;
      const p = project.progress;
      row.querySelector('[data-field="tasks_remaining"]').textContent = Quorum.formatNumber(p.tasks_remaining, 0);
      row.querySelector('[data-field="mine"]').textContent =
        p.annotations_today + " / " + p.annotations_total + (p.daily_cap ? " (cap " + p.daily_cap + "/day)" : "");
      const start = row.querySelector("[data-start]");
      if (start && !project.can_start) {
        start.classList.add("disabled");
        start.setAttribute("aria-disabled", "true");
        const blocked = row.querySelector("[data-blocked]");
        blocked.textContent = project.blocked.message + (project.blocked.until ? " until " + new Date(project.blocked.until).toLocaleString() : "");
        blocked.hidden = false;
      }
    }
  }).catch(function (error) { Quorum.showError(error); });
})();
