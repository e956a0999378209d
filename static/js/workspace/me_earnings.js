/* My earnings: totals per month and currency, and my ledger (GET /api/v1/me/earnings, cursor pages). */
(function () {
  "use strict";
  const el = Quorum.el;
  const KINDS = { submitted: "Submitted", accepted: "Accepted", hourly: "Hours", bonus: "Bonus", reversal: "Reversal" };
  const more = document.querySelector("[data-more]");
  let next = null;

  function money(totals) {
    const parts = Object.entries(totals || {}).map(function (pair) { return Quorum.money(pair[1], pair[0]); });
    return parts.length ? parts.join(", ") : "0.00";
  }

  function stat(label, value) {
    return el("div", { class: "stat" }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
  }

  function load(url, first) {
    more.disabled = true;
    return Quorum.api("GET", url).then(function (response) {
      const data = response.data;
      if (first && data.totals) {
        document.querySelector("[data-totals]").replaceChildren(
          stat("This month", money(data.totals.this_month)),
          stat("Last month", money(data.totals.last_month)),
          stat("All time", money(data.totals.all_time)));
      }
      const body = document.querySelector("[data-ledger] tbody");
      if (first) body.replaceChildren();
      for (const entry of data.results) {
        body.append(el("tr", {},
          el("td", {}, new Date(entry.created_at).toLocaleString()),
          el("td", {}, KINDS[entry.kind] || entry.kind),
          el("td", {}, entry.project ? "#" + entry.project : "—"),
          el("td", {}, entry.note || (entry.annotation ? "annotation #" + entry.annotation : "")),
          el("td", { class: "num" }, Quorum.money(entry.amount, entry.currency))));
      }
      if (first && !data.results.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted" }, "No earnings yet.")));
      next = data.next;
      more.hidden = !next;
      more.disabled = false;
      document.querySelector("[data-loading]").hidden = true;
      document.querySelector("[data-earnings]").hidden = false;
    }).catch(function (error) { document.querySelector("[data-loading]").hidden = true; Quorum.showError(error); });
  }

  more.addEventListener("click", function () { if (next) load(next, false); });
  load("/api/v1/me/earnings?page_size=50", true);
})();
