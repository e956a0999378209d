/* Labeling workspace, part 5: the page's controller. Leases the next task (POST /projects/{id}/next), builds the
   view from the label spec, pre-fills the draft or the best prediction, autosaves the draft (PUT …/draft,
   debounced), keeps the lease alive while the annotator works (POST …/heartbeat), counts the lease down with a
   warning before it ends, submits (Ctrl+Enter) or skips, shows gold feedback, and shows "nothing left" on 204.

   Prefetching: the queue holds one lease per person (`next` answers the active lease again), so the next task
   cannot be leased before this one is submitted. What is done instead: `next` is asked the moment the submit is
   answered, the new task's image is loaded before the view is swapped (the old view stays until then), and the
   labeling code, libraries and styles are already in the page. */
(function () {
  "use strict";
  const el = QW.el;
  const config = JSON.parse(document.getElementById("workspace-config").textContent);
  const spec = JSON.parse(document.getElementById("label-spec").textContent);
  const api = config.api;
  const state = new QW.State();
  const $ = function (selector) { return document.querySelector(selector); };
  const taskBox = $("[data-task]");
  const buttons = {
    submit: $('[data-action="submit"]'), skip: $('[data-action="skip"]'),
    undo: $('[data-action="undo"]'), redo: $('[data-action="redo"]'),
  };
  const WHOLE = ["choices", "textarea", "rating"];
  const IMAGE_REGIONS = ["bbox", "polygon", "keypoints"];

  let lease = null; // {assignment: {id, expires_at}, task: {id, data, predictions}, draft}
  let views = []; // objects and controls with render()/onKey()
  let textViews = [];
  let shownAt = 0;
  let busy = false;
  let draftTimer = null;
  let draftDirty = false;
  let lastActivity = Date.now();
  let lastHeartbeat = Date.now();
  let expiresAt = null;
  let linking = null; // region id a relation starts from
  let idempotencyKey = null;

  function controlsOfType(types, to) {
    return Object.entries(spec.controls).filter(function (pair) {
      return types.includes(pair[1].type) && (to === undefined || pair[1].to === to);
    });
  }

  function mediaUrl(taskId, field, value) {
    if (/^(https?:|data:|blob:|\/)/.test(value)) return value;
    return config.media.replace("/0/", "/" + taskId + "/").replace("FIELD", encodeURIComponent(field));
  }

  /* --- building the view ------------------------------------------------------------------------------ */

  function buildTask(task) {
    views = []; textViews = [];
    const nodes = [];
    const loads = [];
    for (const [name, field] of Object.entries(spec.data)) {
      const value = (task.data || {})[field.field || name];
      const box = el("section", { class: "ws-object", "aria-label": name }, el("h2", {}, name));
      if (field.type === "text" || field.type === "html") {
        const text = typeof value === "string" ? value : JSON.stringify(value);
        // Spans over HTML are stored with XPaths (hypertextlabels); this view marks plain text only.
        const spans = field.type === "text" ? controlsOfType(["spans"], name) : [];
        const view = QW.text.textObject(name, field.type === "html" ? htmlText(text) : text, spans, state, {});
        if (field.type !== "text" && controlsOfType(["spans", "html_spans"], name).length) {
          box.append(el("p", { class: "muted" }, "Marking spans in HTML is not supported in this view yet."));
        }
        textViews.push(view); views.push(view);
        box.append(view.node);
      } else if (field.type === "paragraphs") {
        const list = el("ol", { class: "paragraphs" });
        for (const p of Array.isArray(value) ? value : []) list.append(el("li", {}, String(p[field.text_key || "text"] || "")));
        box.append(list);
      } else if (field.type === "image") {
        const view = QW.image.imageObject(name, mediaUrl(task.id, name, String(value || "")), controlsOfType(IMAGE_REGIONS, name), state, {
          regionClicked: function (id) { regionPicked(id); },
          textHasFocus: function () { return textViews.some(function (t) { return t.hasFocus(); }); },
        });
        views.push(view);
        loads.push(view.ready.catch(function () { return null; }));
        box.append(view.node);
      } else if (field.type === "audio") {
        box.append(el("audio", { controls: true, src: mediaUrl(task.id, name, String(value || "")), "aria-label": name }));
      } else {
        box.append(el("a", { href: String(value || ""), rel: "noopener noreferrer", target: "_blank" }, String(value || "")));
      }
      nodes.push(box);
    }
    for (const [name, control] of Object.entries(spec.controls)) {
      if (!WHOLE.includes(control.type)) continue;
      let view;
      if (control.type === "choices") {
        view = QW.controls.hierarchical(control) ? QW.controls.taxonomyPicker(name, control, state)
                                                 : QW.controls.flatChoices(name, control, state);
      } else if (control.type === "textarea") view = QW.controls.textarea(name, control, state);
      else view = QW.controls.rating(name, control, state);
      views.push(view);
      const box = el("div", { class: "ws-control", dataset: { control: name } }, view.node);
      if (control.per_region) {
        state.perRegion[name] = control.to;
        box.classList.add("per-region");
        box.append(el("p", { class: "muted per-region-hint" }, "About the selected region of " + control.to + "."));
      }
      nodes.push(box);
    }
    return { nodes: nodes, loads: loads };
  }

  function htmlText(html) {
    return new DOMParser().parseFromString(html, "text/html").body.textContent || "";
  }

  /* visible_when (Label Studio's visibleWhen): every condition must hold for the control to show. */
  function chosenValues(name) {
    const values = [];
    for (const item of state.result) {
      if (item.from_name !== name || QW.isRegion(item)) continue;
      for (const v of (item.value.choices || item.value.taxonomy || [])) values.push(...(Array.isArray(v) ? v : [v]));
    }
    return values;
  }

  function visible(control) {
    return (control.visible_when || []).every(function (condition) {
      const wanted = condition.values || [];
      if (condition.when === "choice-selected" || condition.when === "choice-unselected") {
        const chosen = chosenValues(condition.control);
        const hit = wanted.length ? wanted.some(function (v) { return chosen.includes(v); }) : chosen.length > 0;
        return condition.when === "choice-selected" ? hit : !hit;
      }
      const region = state.selected && state.find(state.selected);
      const selected = !!region && QW.isRegion(region) && (!condition.control || region.from_name === condition.control) &&
        (!wanted.length || QW.regionLabels(region).some(function (l) { return wanted.includes(l); }));
      return condition.when === "region-selected" ? selected : !selected;
    });
  }

  function render() {
    for (const view of views) view.render();
    for (const box of taskBox.querySelectorAll(".ws-control[data-control]")) {
      const name = box.dataset.control;
      box.hidden = !visible(spec.controls[name]);
      if (box.classList.contains("per-region")) box.classList.toggle("inactive", !state.targetRegion(name));
    }
    renderRegions();
    buttons.undo.disabled = !state.undoStack.length;
    buttons.redo.disabled = !state.redoStack.length;
  }

  /* The side panel: every region and relation, to select, relabel (by key), link and delete. */
  function renderRegions() {
    const panel = $("[data-regions-panel]");
    const list = $("[data-region-list]");
    const relationControls = controlsOfType(["relation"]);
    const regions = state.result.filter(function (item) { return Object.values(QW.REGION_TYPES).includes(item.type); });
    const relations = state.result.filter(function (item) { return item.type === "relation"; });
    panel.hidden = !regions.length && !Object.values(spec.controls).some(function (c) { return c.type in QW.REGION_TYPES; });
    list.replaceChildren();
    if (!regions.length) list.append(el("li", { class: "muted" }, "No regions yet."));
    for (const item of regions) {
      const selected = item.id === state.selected;
      const row = el("li", { class: selected ? "selected" : null, dataset: { region: item.id } },
                     el("button", { type: "button", class: "secondary small", "aria-pressed": String(selected),
                                    onclick: function () { regionPicked(item.id); } }, QW.describeRegion(item)));
      const actions = el("span", {});
      if (relationControls.length) {
        actions.append(el("button", { type: "button", class: "secondary small", title: "Link to another region",
                                      onclick: function () { startLink(item.id); } }, linking === item.id ? "Pick target…" : "Link"));
      }
      actions.append(el("button", { type: "button", class: "danger small", "aria-label": "Delete " + QW.describeRegion(item),
                                    onclick: function () { state.removeRegion(item.id); } }, "×"));
      row.append(actions);
      list.append(row);
    }
    for (const relation of relations) {
      const from = state.find(relation.from_id), to = state.find(relation.to_id);
      const row = el("li", {}, el("span", {}, "↳ " + (from ? QW.describeRegion(from) : "?") + " → " + (to ? QW.describeRegion(to) : "?") +
                                               (relation.labels && relation.labels.length ? " (" + relation.labels.join(", ") + ")" : "")));
      const [, control] = relationControls.find(function (pair) { return pair[0] === relation.from_name; }) || [null, { labels: [] }];
      const actions = el("span", {});
      if (control.labels && control.labels.length) {
        const select = el("select", { "aria-label": "Relation label", onchange: function (event) {
          const value = event.target.value;
          state.change(function (result) {
            const r = result.find(function (i) { return i.id === relation.id; });
            r.labels = value ? [value] : [];
          });
        } }, el("option", { value: "" }, "(no label)"));
        for (const label of control.labels) select.append(el("option", { value: label.value, selected: (relation.labels || []).includes(label.value) }, label.value));
        actions.append(select);
      }
      actions.append(el("button", { type: "button", class: "danger small", "aria-label": "Delete relation",
                                    onclick: function () { state.change(function (result) {
                                      const i = result.findIndex(function (r) { return r.id === relation.id; });
                                      if (i >= 0) result.splice(i, 1);
                                    }); } }, "×"));
      row.append(actions);
      list.append(row);
    }
  }

  function startLink(id) {
    linking = linking === id ? null : id;
    renderRegions();
  }

  function regionPicked(id) {
    if (linking && linking !== id) {
      const [name] = controlsOfType(["relation"])[0];
      const from = linking;
      linking = null;
      state.change(function (result) {
        result.push({ id: QW.uid(), from_name: name, to_name: name, type: "relation", from_id: from, to_id: id, direction: "right", labels: [] });
      });
      return;
    }
    state.select(id);
  }

  state.onChange(function (change) {
    render();
    if (change.edited) scheduleDraft();
  });

  /* --- the lease ---------------------------------------------------------------------------------------- */

  async function loadNext() {
    busy = true;
    setButtons(false);
    Quorum.clearError();
    let response;
    try {
      response = await Quorum.api("POST", api + "projects/" + config.project + "/next");
    } catch (error) {
      busy = false;
      $("[data-loading]").hidden = true;
      Quorum.showError(error.code === "suspended" && error.details.until
        ? error.message + " (until " + new Date(error.details.until).toLocaleString() + ")" : error);
      return;
    }
    if (response.status === 204) {
      lease = null;
      expiresAt = null;
      views = []; textViews = [];
      taskBox.replaceChildren();
      state.reset([]);
      taskBox.hidden = true;
      $("[data-loading]").hidden = true;
      $("[data-lease-timer]").hidden = true;
      $("[data-lease-warning]").hidden = true;
      $("[data-done]").hidden = false;
      $("[data-done] a").focus();
      busy = false;
      return;
    }
    await show(response.data);
  }

  async function show(next) {
    const built = buildTask(next.task);
    await Promise.all(built.loads.map(function (p) { return Promise.race([p, wait(8000)]); }));
    lease = next;
    idempotencyKey = "ws-" + next.assignment.id + "-" + QW.uid();
    expiresAt = next.assignment.expires_at ? new Date(next.assignment.expires_at).getTime() : null;
    lastHeartbeat = Date.now();
    const start = next.draft && next.draft.length ? next.draft
      : (next.task.predictions && next.task.predictions.length ? next.task.predictions[0].result : []);
    taskBox.replaceChildren(...built.nodes);
    if (next.draft && next.draft.length) taskBox.prepend(el("p", { class: "muted" }, "Your saved draft was restored."));
    else if (next.task.predictions && next.task.predictions.length) {
      taskBox.prepend(el("p", { class: "muted" }, "Pre-filled from a model prediction" +
                          (next.task.predictions[0].model_version ? " (" + next.task.predictions[0].model_version + ")" : "") + ": check and correct it."));
    }
    taskBox.hidden = false;
    for (const view of views) if (view.attach) view.attach();
    taskBox.dataset.taskId = String(next.task.id);
    taskBox.dataset.assignmentId = String(next.assignment.id);
    $("[data-loading]").hidden = true;
    $("[data-done]").hidden = true;
    state.reset(start);
    draftDirty = false;
    setSave("");
    shownAt = Date.now();
    busy = false;
    setButtons(true);
    const first = taskBox.querySelector(".text-object, .choice, .canvas-wrap, input, textarea, .rating button");
    if (first) first.focus({ preventScroll: true });
    tick();
  }

  function wait(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function setButtons(on) {
    buttons.submit.disabled = !on;
    buttons.skip.disabled = !on;
  }

  function missingRequired() {
    const missing = [];
    for (const [name, control] of Object.entries(spec.controls)) {
      if (!control.required || control.per_region || !visible(control)) continue;
      if (!state.result.some(function (item) { return item.from_name === name; })) missing.push(name);
    }
    return missing;
  }

  async function submit() {
    if (!lease || busy) return;
    const missing = missingRequired();
    if (missing.length) { Quorum.showError("Required: " + missing.join(", ")); return; }
    busy = true;
    setButtons(false);
    window.clearTimeout(draftTimer);
    const assignment = lease.assignment.id;
    try {
      const response = await Quorum.api("POST", api + "assignments/" + assignment + "/submit",
                                        { result: state.result, lead_time_ms: Date.now() - shownAt },
                                        { headers: { "Idempotency-Key": idempotencyKey } });
      document.body.dataset.lastAnnotation = String(response.data.id);
      showFeedback(response.data.gold_feedback);
      setSave("Submitted ✓");
    } catch (error) {
      busy = false;
      if (error.code === "lease_expired") {
        Quorum.showError(error.message);
      } else {
        setButtons(true);
        Quorum.showError(error);
        return;
      }
    }
    await loadNext();
  }

  async function skip() {
    if (!lease || busy) return;
    busy = true;
    setButtons(false);
    try {
      await Quorum.api("POST", api + "assignments/" + lease.assignment.id + "/skip");
    } catch (error) {
      busy = false;
      setButtons(true);
      Quorum.showError(error);
      return;
    }
    $("[data-feedback]").hidden = true;
    await loadNext();
  }

  function describeResult(result) {
    return (result || []).map(function (item) {
      const v = item.value || {};
      if (v.choices) return item.from_name + ": " + v.choices.map(function (c) { return Array.isArray(c) ? c.join(" / ") : c; }).join(", ");
      if (v.taxonomy) return item.from_name + ": " + v.taxonomy.map(function (c) { return c.join(" / "); }).join(", ");
      if (v.text) return item.from_name + ": " + [].concat(v.text).join(" ");
      if (v.rating !== undefined) return item.from_name + ": " + v.rating;
      return QW.describeRegion(item);
    }).join("; ");
  }

  function showFeedback(feedback) {
    const box = $("[data-feedback]");
    if (!feedback) { box.hidden = true; return; }
    box.replaceChildren(
      el("h2", {}, feedback.passed ? "Correct ✓" : "Not quite"),
      el("p", {}, "That was a known-answer task. Score: " + Math.round((feedback.score || 0) * 100) + "%."),
      feedback.result ? el("p", {}, "Expected: " + describeResult(feedback.result)) : null,
    );
    box.classList.toggle("wrong", !feedback.passed);
    box.hidden = false;
  }

  /* --- draft, heartbeat, timer ---------------------------------------------------------------------------- */

  function setSave(text) { $("[data-save-state]").textContent = text; }

  function scheduleDraft() {
    if (!lease) return;
    draftDirty = true;
    setSave("Unsaved changes");
    window.clearTimeout(draftTimer);
    draftTimer = window.setTimeout(saveDraft, 1200);
  }

  async function saveDraft(options) {
    if (!lease || !draftDirty) return;
    const assignment = lease.assignment.id;
    draftDirty = false;
    setSave("Saving draft…");
    try {
      await Quorum.api("PUT", api + "assignments/" + assignment + "/draft", { draft: state.result }, options);
      if (lease && lease.assignment.id === assignment) setSave("Draft saved " + new Date().toLocaleTimeString());
    } catch (error) {
      draftDirty = true;
      setSave("Draft not saved");
      if (error.status !== 0) Quorum.showError(error);
    }
  }

  async function heartbeat() {
    if (!lease) return;
    lastHeartbeat = Date.now();
    try {
      const response = await Quorum.api("POST", api + "assignments/" + lease.assignment.id + "/heartbeat");
      if (response.data.expires_at) expiresAt = new Date(response.data.expires_at).getTime();
      tick();
    } catch (error) {
      if (error.code === "lease_expired" || error.status === 409 || error.status === 404) {
        Quorum.showError("This task's lease has ended: " + error.message);
      }
    }
  }

  function leaseLength() {
    return (config.lease_seconds || 0) * 1000 || (lease && expiresAt ? Math.max(60000, expiresAt - shownAt) : 600000);
  }

  function tick() {
    const timer = $("[data-lease-timer]");
    const warning = $("[data-lease-warning]");
    if (!lease || !expiresAt) { timer.hidden = true; warning.hidden = true; return; }
    const left = Math.round((expiresAt - Date.now()) / 1000);
    const shown = Math.max(0, left);
    timer.hidden = false;
    timer.textContent = "Lease " + Math.floor(shown / 60) + ":" + String(shown % 60).padStart(2, "0");
    const warnAt = Math.min(120, Math.max(30, leaseLength() / 1000 / 10));
    timer.classList.toggle("warn", left > 0 && left <= warnAt);
    timer.classList.toggle("expired", left <= 0);
    if (left <= 0) {
      warning.textContent = "The lease on this task has ended. You can still submit unless someone else took the task.";
      warning.hidden = false;
    } else if (left <= warnAt) {
      warning.textContent = "This task's lease ends in " + shown + " s. Keep working (any key or click extends it), or it goes back to the queue.";
      warning.hidden = false;
    } else {
      warning.hidden = true;
    }
  }

  window.setInterval(function () {
    tick();
    if (!lease || !expiresAt) return;
    const active = lastActivity > lastHeartbeat;
    const left = expiresAt - Date.now();
    const every = Math.min(60000, leaseLength() / 3);
    if (active && (Date.now() - lastHeartbeat > every || left < Math.min(120000, leaseLength() / 4))) heartbeat();
  }, 1000);

  /* --- keys and buttons --------------------------------------------------------------------------------- */

  function onActivity() { lastActivity = Date.now(); }
  document.addEventListener("pointerdown", onActivity, true);

  document.addEventListener("keydown", function (event) {
    onActivity();
    if (!lease || busy) return;
    const typing = event.target.matches("input[type=text], input[type=search], input:not([type]), textarea, select");
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key === "Enter") { event.preventDefault(); submit(); return; }
    if (mod && event.shiftKey && (event.key === "S" || event.key === "s")) { event.preventDefault(); skip(); return; }
    if (typing) return;
    if (mod && !event.shiftKey && event.key.toLowerCase() === "z") { event.preventDefault(); state.undo(); return; }
    if (mod && (event.key.toLowerCase() === "y" || (event.shiftKey && event.key.toLowerCase() === "z"))) {
      event.preventDefault(); state.redo(); return;
    }
    if ((event.key === "Delete" || event.key === "Backspace") && state.selected) {
      event.preventDefault(); state.removeRegion(state.selected); return;
    }
    if (event.target.matches("button") && (event.key === "Enter" || event.key === " ")) return; // activate the button
    // Text first (its caret keys, and label keys for a selection in it), then an image whose region is selected
    // or which has focus, then the whole-task controls' hotkeys, then image label keys (pick the active label).
    const images = views.filter(function (view) { return view.holder; });
    const whole = views.filter(function (view) {
      const box = view.node.closest(".ws-control");
      return !view.holder && !textViews.includes(view) && !(box && box.hidden);
    });
    const handled = textViews.some(function (view) { return view.onKey(event); }) ||
      images.some(function (view) { return view.onKey(event, false); }) ||
      whole.some(function (view) { return view.onKey(event); }) ||
      images.some(function (view) { return view.onKey(event, true); });
    if (handled) { event.preventDefault(); return; }
    if (event.key === "Escape" && state.selected) { state.select(null); linking = null; }
  });
  document.addEventListener("keyup", function (event) {
    if (event.key === " ") for (const view of views) if (view.holder) view.onKey(event);
  });

  buttons.submit.addEventListener("click", submit);
  buttons.skip.addEventListener("click", skip);
  buttons.undo.addEventListener("click", function () { state.undo(); });
  buttons.redo.addEventListener("click", function () { state.redo(); });
  window.addEventListener("pagehide", function () { if (draftDirty) saveDraft({ keepalive: true }); });

  // Lease revoked by a manager, or gold feedback pushed after the fact.
  Quorum.socket("/ws/me/", function (message) {
    if (message.type === "lease.revoked" && lease && message.assignment === lease.assignment.id) {
      Quorum.showError("A manager took this task back.");
      lease = null;
      loadNext();
    } else if (message.type === "gold.feedback" && $("[data-feedback]").hidden) {
      showFeedback(message);
    }
  });

  window.QW.workspace = { state: state, submit: submit, skip: skip, current: function () { return lease; } };
  loadNext();
})();
