/* Audit log page: verify the hash chain (POST /audit/verify). */
(function () {
  "use strict";
  const { api, say } = window.QM;
  const button = document.getElementById("verify");
  const status = document.getElementById("verify-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    say(status, "Verifying…", "busy");
    try {
      const result = await api("POST", "/audit/verify");
      if (result.ok) say(status, `The chain is intact: ${result.checked} events checked.`, "ok");
      else say(status, `Broken at event ${result.first_bad.event}: ${result.first_bad.reason}`, "error");
    } catch (err) { say(status, err.message, "error"); }
    button.disabled = false;
  });
})();
