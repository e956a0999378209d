/* New-project form: a schema builder that writes the label spec JSON (apps/projects/label_spec.py), or a
   Label Studio XML config. The JSON textarea is the form's truth; the builder only writes it. */
(function () {
  "use strict";
  const { el, clear, jsonData } = window.QM;
  const CONTROL_TYPES = jsonData("control-types");
  const DATA_TYPES = jsonData("data-types");
  const NO_LABELS = new Set(["textarea", "rating"]);
  const IMAGE_ONLY = new Set(["bbox", "polygon", "keypoints"]);
  const form = document.getElementById("project-form");
  const output = document.getElementById("id_label_schema");
  const fieldsBox = document.getElementById("data-fields");
  const controlsBox = document.getElementById("controls");
  let uid = 0;

  /* --- source toggle ------------------------------------------------------------------------- */
  function showSource() {
    const chosen = form.querySelector("input[name=schema_source]:checked");
    const source = chosen ? chosen.value : "builder";
    for (const box of document.querySelectorAll("[data-source]")) box.hidden = box.dataset.source !== source;
  }
  for (const radio of form.querySelectorAll("input[name=schema_source]")) radio.addEventListener("change", showSource);

  /* --- rows ---------------------------------------------------------------------------------- */
  function field(label, input) {
    const id = "sb-" + (++uid);
    input.id = id;
    return el("div", { class: "field" }, [el("label", { for: id, text: label }), input]);
  }
  function select(options, value, cls) {
    const node = el("select", { class: cls });
    for (const option of options) node.append(el("option", { value: option, text: option, selected: option === value }));
    return node;
  }

  function addField(name, type) {
    const row = el("div", { class: "schema-control", "data-kind": "field" });
    const nameInput = el("input", { type: "text", class: "f-name", value: name || "", required: true });
    const remove = el("button", { type: "button", class: "danger small", text: "Remove", "aria-label": "Remove data field" });
    remove.addEventListener("click", () => { row.remove(); write(); });
    row.append(el("div", { class: "row" }, [field("Data key", nameInput), field("Type", select(DATA_TYPES, type || "text", "f-type")), remove]));
    fieldsBox.append(row);
    refreshTargets();
    write();
  }

  function labelsText(labels, prefix) {
    const parts = [];
    for (const label of labels || []) {
      const path = prefix ? prefix + "/" + label.value : label.value;
      if (label.children && label.children.length) parts.push(...labelsText(label.children, path));
      else parts.push(label.hotkey ? `${path}:${label.hotkey}` : path);
    }
    return parts;
  }

  function addControl(type, name, spec) {
    spec = spec || {};
    const row = el("div", { class: "schema-control", "data-kind": "control" });
    const typeSelect = select(CONTROL_TYPES, type, "c-type");
    const nameInput = el("input", { type: "text", class: "c-name", value: name || type + "_" + (controlsBox.children.length + 1) });
    const target = el("select", { class: "c-to" });
    target.dataset.value = spec.to || "";
    const labels = el("input", { type: "text", class: "c-labels", size: 40, value: labelsText(spec.labels).join(", "),
      placeholder: type === "relation" ? "same_as, part_of" : "positive:1, negative:2" });
    const multiple = el("input", { type: "checkbox", class: "c-multiple", checked: !!spec.multiple });
    const required = el("input", { type: "checkbox", class: "c-required", checked: !!spec.required });
    const max = el("input", { type: "number", class: "c-max", min: 1, max: 100, value: spec.max || 5 });
    const remove = el("button", { type: "button", class: "danger small", text: "Remove", "aria-label": "Remove control" });
    remove.addEventListener("click", () => { row.remove(); write(); });
    const boxes = { to: field("Labels what", target), labels: field("Labels", labels), multiple: field("Multiple", multiple),
      max: field("Max rating", max) };
    row.append(el("div", { class: "row" }, [field("Control", typeSelect), field("Name", nameInput), boxes.to, boxes.labels,
      boxes.multiple, field("Required", required), boxes.max, remove]));
    function adapt() {
      const t = typeSelect.value;
      boxes.to.hidden = t === "relation";
      boxes.labels.hidden = NO_LABELS.has(t);
      boxes.multiple.hidden = NO_LABELS.has(t) || t === "relation";
      boxes.max.hidden = t !== "rating";
      refreshTargets();
    }
    typeSelect.addEventListener("change", () => { adapt(); write(); });
    controlsBox.append(row);
    adapt();
    write();
  }

  function fields() {
    return [...fieldsBox.querySelectorAll("[data-kind=field]")].map((row) => ({
      name: row.querySelector(".f-name").value.trim(), type: row.querySelector(".f-type").value,
    })).filter((f) => f.name);
  }

  function refreshTargets() {
    const all = fields();
    for (const row of controlsBox.querySelectorAll("[data-kind=control]")) {
      const target = row.querySelector(".c-to");
      const type = row.querySelector(".c-type").value;
      const current = target.value || target.dataset.value;
      clear(target);
      const fitting = all.filter((f) => !IMAGE_ONLY.has(type) || f.type === "image");
      for (const f of (fitting.length ? fitting : all)) target.append(el("option", { value: f.name, text: f.name, selected: f.name === current }));
    }
  }

  function parseLabels(text) {
    const roots = [];
    for (const raw of text.split(",")) {
      const item = raw.trim();
      if (!item) continue;
      let [path, hotkey] = item.split(":");
      const parts = path.split("/").map((p) => p.trim()).filter(Boolean);
      let level = roots;
      parts.forEach((value, i) => {
        let node = level.find((n) => n.value === value);
        if (!node) { node = { value }; level.push(node); }
        if (i === parts.length - 1) { if (hotkey && hotkey.trim()) node.hotkey = hotkey.trim(); }
        else { node.children = node.children || []; level = node.children; }
      });
    }
    return roots;
  }

  /* --- builder → JSON ------------------------------------------------------------------------ */
  function write() {
    const spec = { data: {}, controls: {} };
    for (const f of fields()) spec.data[f.name] = { type: f.type };
    for (const row of controlsBox.querySelectorAll("[data-kind=control]")) {
      const type = row.querySelector(".c-type").value;
      const name = row.querySelector(".c-name").value.trim();
      if (!name) continue;
      const control = { type };
      if (type !== "relation") control.to = row.querySelector(".c-to").value;
      if (!NO_LABELS.has(type)) control.labels = parseLabels(row.querySelector(".c-labels").value);
      if (row.querySelector(".c-multiple").checked && !NO_LABELS.has(type) && type !== "relation") control.multiple = true;
      if (row.querySelector(".c-required").checked) control.required = true;
      if (type === "rating") control.max = Number(row.querySelector(".c-max").value) || 5;
      spec.controls[name] = control;
    }
    output.value = JSON.stringify(spec, null, 2);
  }

  document.getElementById("builder").addEventListener("input", (event) => {
    if (event.target === output) return;
    if (event.target.classList.contains("f-name")) refreshTargets();
    write();
  });
  document.getElementById("builder").addEventListener("change", (event) => { if (event.target !== output) write(); });
  document.getElementById("add-field").addEventListener("click", () => addField("", "text"));
  document.getElementById("add-control").addEventListener("click", () => addControl(document.getElementById("add-control-type").value));

  /* --- start: from the JSON sent back after an error, or a text + sentiment example ---------- */
  let existing = null;
  try { existing = output.value.trim() ? JSON.parse(output.value) : null; } catch (e) { existing = null; }
  if (existing && existing.data && existing.controls) {
    for (const [name, f] of Object.entries(existing.data)) addField(name, f.type);
    for (const [name, c] of Object.entries(existing.controls)) addControl(c.type, name, c);
  } else if (!output.value.trim()) {
    addField("text", "text");
    addControl("choices", "sentiment", { to: "text", required: true, labels: [{ value: "positive", hotkey: "1" }, { value: "negative", hotkey: "2" }] });
  }
  showSource();
})();
