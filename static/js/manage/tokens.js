/* API tokens page: list, create (the secret shown once), revoke. */
(function () {
  "use strict";
  const { api, apiAll, el, clear, when, say } = window.QM;
  const form = document.getElementById("token-form");
  const status = document.getElementById("token-status");
  const tbody = document.querySelector("#tokens-table tbody");
  const showRevoked = document.getElementById("show-revoked");

  async function load() {
    const rows = await apiAll("/tokens?page_size=200" + (showRevoked.checked ? "&include_revoked=true" : ""));
    clear(tbody);
    if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: 8, class: "muted", text: "No tokens yet." })));
    for (const token of rows) {
      const revoke = token.revoked_at ? null : el("button", {
        type: "button", class: "danger small", text: "Revoke", "aria-label": `Revoke token ${token.name}`,
        onclick: async () => {
          if (!window.confirm(`Revoke the token “${token.name}”? Scripts using it stop working.`)) return;
          try {
            await api("DELETE", `/tokens/${token.id}`);
            say(status, `Token “${token.name}” revoked.`, "ok");
            await load();
          } catch (err) { say(status, err.message, "error"); }
        },
      });
      const state = token.revoked_at ? "revoked" : (token.expires_at && new Date(token.expires_at) < new Date() ? "expired" : "active");
      tbody.append(el("tr", { "data-token": token.id }, [
        el("td", { text: token.name }), el("td", {}, el("code", { text: token.prefix })), el("td", { text: token.user }),
        el("td", { text: token.role }), el("td", { text: when(token.expires_at) }), el("td", { text: when(token.last_used_at) }),
        el("td", {}, el("span", { class: "badge " + state, text: state })), el("td", {}, revoke),
      ]));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = { name: data.get("name"), role: data.get("role"), service_account: data.get("service_account") === "on" };
    if (data.get("expires_days")) body.expires_days = Number(data.get("expires_days"));
    say(status, "Creating…", "busy");
    try {
      const token = await api("POST", "/tokens", body);
      document.getElementById("token-secret-value").textContent = token.secret;
      document.getElementById("token-secret").hidden = false;
      say(status, `Token “${token.name}” created.`, "ok");
      form.reset();
      await load();
    } catch (err) { say(status, err.message, "error"); }
  });

  document.getElementById("token-copy").addEventListener("click", async () => {
    const secret = document.getElementById("token-secret-value").textContent;
    try { await navigator.clipboard.writeText(secret); say(status, "Secret copied to the clipboard.", "ok"); }
    catch (e) { say(status, "Select the secret and copy it by hand.", "error"); }
  });
  showRevoked.addEventListener("change", () => load().catch((err) => say(status, err.message, "error")));
  load().catch((err) => say(status, err.message, "error"));
})();
