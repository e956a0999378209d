/* Reviewer view: lease the next annotation (POST /projects/{id}/reviews/next), show it beside the others
   and the consensus, decide accept / reject / fix with a comment (POST /reviews/{id}), then the next. */
(function () {
  "use strict";
  const { api, el, clear, when, say, jsonData } = window.QM;
  const { renderTask, resultList } = window.QMResults;
  const spec = jsonData("review-spec");
  const config = jsonData("review-config");
  const status = document.getElementById("review-status");
  const main = document.getElementById("review-main");
  const empty = document.getElementById("review-empty");
  const comment = document.getElementById("review-comment");
  const fixBox = document.getElementById("fix-box");
  const fixResult = document.getElementById("fix-result");
  const compare = document.getElementById("review-compare");
  const buttons = ["accept", "reject", "fix", "fix-save"].map((id) => document.getElementById(id));
  let review = null;
  let busy = false;

  function card(annotation, current) {
    return el("div", { class: "annotation-card" + (current ? " current" : "") }, [
      el("h3", { text: `${annotation.author || annotation.source} · v${annotation.version}` }),
      el("p", { class: "muted", text: `${annotation.status} · ${when(annotation.created_at)}${annotation.lead_time_ms ? " · " + Math.round(annotation.lead_time_ms / 1000) + " s" : ""}` }),
      resultList(annotation.result),
    ]);
  }

  /* The annotation under review on the task; with "compare", the others' and the consensus's regions too. */
  function drawTask() {
    const layers = !compare.checked ? [] : [
      ...review.others.map((other) => ({ result: other.result, label: other.author || other.source })),
      ...(review.consensus ? [{ result: review.consensus.result, label: "consensus" }] : []),
    ];
    renderTask(document.getElementById("task-data"), review.task, spec, config, review.annotation.result, layers);
  }

  function show(body) {
    review = body;
    empty.hidden = true;
    main.hidden = false;
    document.getElementById("task-id").textContent = `#${body.task.id}`;
    drawTask();
    clear(document.getElementById("current")).append(card(body.annotation, true));
    const others = clear(document.getElementById("others"));
    if (!body.others.length) others.append(el("p", { class: "muted", text: "Nobody else has annotated this task." }));
    for (const other of body.others) others.append(card(other, false));
    const consensus = clear(document.getElementById("consensus"));
    if (body.consensus) {
      consensus.append(el("p", { text: `${body.consensus.method || "consensus"} · confidence ${body.consensus.confidence === null ? "—" : (body.consensus.confidence * 100).toFixed(0) + "%"}` }));
      consensus.append(resultList(body.consensus.result));
    } else {
      consensus.append(el("p", { class: "muted", text: "No consensus yet (it is computed once the task has its annotations)." }));
    }
    document.getElementById("review-expires").textContent = when(body.expires_at);
    comment.value = "";
    fixBox.hidden = true;
    document.getElementById("fix-save").hidden = true;
    fixResult.value = JSON.stringify(body.annotation.result, null, 2);
    say(status, `Reviewing annotation ${body.annotation.id} by ${body.annotation.author || body.annotation.source}.`, "ok");
    document.getElementById("accept").focus();
  }

  async function next() {
    say(status, "Taking the next annotation to review…", "busy");
    try {
      const body = await api("POST", `/projects/${config.project}/reviews/next`);
      if (body === null) {
        review = null;
        main.hidden = true;
        empty.hidden = false;
        say(status, "Nothing to review right now.", "ok");
        return;
      }
      show(body);
    } catch (err) { say(status, err.message, "error"); }
  }

  async function decide(decision) {
    if (!review || busy) return;
    const body = { decision, comment: comment.value };
    if (decision === "fix") {
      try { body.result = JSON.parse(fixResult.value); } catch (e) { say(status, "The corrected result is not valid JSON.", "error"); return; }
    }
    if (decision === "reject" && !comment.value.trim() && !window.confirm("Reject without a comment?")) return;
    busy = true;
    buttons.forEach((b) => { b.disabled = true; });
    say(status, "Saving your decision…", "busy");
    try {
      await api("POST", `/reviews/${review.id}`, body);
      say(status, `Annotation ${review.annotation.id}: ${decision === "fix" ? "fixed" : decision + "ed"}.`, "ok");
      await next();
    } catch (err) {
      say(status, err.details && err.details.path ? `${err.message} (${err.details.path}: ${err.details.reason})` : err.message, "error");
    } finally {
      busy = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function openFix() {
    fixBox.hidden = false;
    document.getElementById("fix-save").hidden = false;
    fixResult.focus();
  }

  document.getElementById("accept").addEventListener("click", () => decide("accept"));
  document.getElementById("reject").addEventListener("click", () => decide("reject"));
  document.getElementById("fix").addEventListener("click", openFix);
  document.getElementById("fix-save").addEventListener("click", () => decide("fix"));
  document.getElementById("review-retry").addEventListener("click", next);
  compare.addEventListener("change", () => { if (review) drawTask(); });
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const key = event.code; // not event.key: Alt changes the character on some layouts
    if (key === "KeyA") { event.preventDefault(); decide("accept"); }
    else if (key === "KeyR") { event.preventDefault(); decide("reject"); }
    else if (key === "KeyF") { event.preventDefault(); openFix(); }
  });
  next();
})();
