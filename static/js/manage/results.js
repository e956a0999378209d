/* Shows tasks and results (Label Studio region format) read-only: the task's data per the label spec, with
   the regions of one result drawn on it (spans marked in text, boxes/points on images), and each result
   as a readable list. Used by the reviewer view. */
(function () {
  "use strict";
  const { el, clear } = window.QM;
  const COLORS = ["#e8590c", "#2952cc", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad"];

  function labelsOf(value) {
    for (const key of ["labels", "rectanglelabels", "polygonlabels", "keypointlabels", "hypertextlabels", "paragraphlabels", "choices", "taxonomy"]) {
      if (Array.isArray(value[key])) return value[key].map((v) => (Array.isArray(v) ? v.join(" / ") : v));
    }
    return [];
  }

  function describe(region) {
    const v = region.value || {};
    const name = region.from_name || region.type;
    if (region.type === "relation") return `${name || "relation"}: ${region.from_id} → ${region.to_id}${(region.labels || []).length ? " (" + region.labels.join(", ") + ")" : ""}`;
    const labels = labelsOf(v).join(", ");
    switch (region.type) {
      case "choices": case "taxonomy": return `${name}: ${labels || "(none)"}`;
      case "labels": return `${name}: ${labels} «${v.text !== undefined ? v.text : ""}» [${v.start}–${v.end}]`;
      case "rectanglelabels": return `${name}: ${labels} box at ${round(v.x)}%, ${round(v.y)}%, ${round(v.width)}×${round(v.height)}%`;
      case "polygonlabels": return `${name}: ${labels} polygon of ${(v.points || []).length} points`;
      case "keypointlabels": return `${name}: ${labels} point at ${round(v.x)}%, ${round(v.y)}%`;
      case "textarea": return `${name}: “${(v.text || []).join(" / ")}”`;
      case "rating": return `${name}: ${v.rating}`;
      default: return `${name}: ${JSON.stringify(v)}`;
    }
  }
  function round(n) { return typeof n === "number" ? Math.round(n * 10) / 10 : n; }

  function resultList(result) {
    if (!result || !result.length) return el("p", { class: "muted", text: "Empty result." });
    return el("ul", { class: "regions" }, result.map((region) => el("li", { text: describe(region) })));
  }

  function mediaUrl(config, taskId, field, value) {
    if (typeof value === "string" && /^(https?:\/\/|\/|data:)/.test(value)) return value;
    return config.media.replace("TASK", taskId).replace("FIELD", encodeURIComponent(field));
  }

  /* Task data per spec; regions of `result` drawn on it, and, dashed, those of each `layers` entry
     ({result, label}: other annotators, the consensus) on images. */
  function renderTask(container, task, spec, config, result, layers) {
    clear(container);
    const data = task.data || {};
    const fields = Object.entries((spec && spec.data) || {});
    if (!fields.length) container.append(el("pre", { class: "task-text", text: JSON.stringify(data, null, 2) }));
    for (const [name, field] of fields) {
      const key = field.field || name;
      const value = data[key];
      const regions = (result || []).filter((r) => r.to_name === name);
      container.append(el("h3", { text: name }));
      if (field.type === "image") {
        const box = el("div", { class: "image-box" });
        const img = el("img", { src: mediaUrl(config, task.id, key, value), alt: `Task ${task.id}: ${name}` });
        box.append(img);
        regions.forEach((region, i) => drawRegion(box, region, COLORS[i % COLORS.length]));
        (layers || []).forEach((layer, i) => {
          for (const region of (layer.result || []).filter((r) => r.to_name === name)) {
            const node = drawRegion(box, region, COLORS[(i + 1) % COLORS.length], layer.label);
            if (node) node.classList.add("other");
          }
        });
        container.append(box);
      } else if (field.type === "text" || field.type === "html") {
        container.append(markText(typeof value === "string" ? value : JSON.stringify(value), regions.filter((r) => r.type === "labels")));
      } else if (field.type === "paragraphs" && Array.isArray(value)) {
        const textKey = field.text_key || "text";
        container.append(el("div", { class: "task-text" }, value.map((p) => el("p", { text: p[textKey] || "" }))));
      } else {
        container.append(el("pre", { class: "task-text", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) }));
      }
    }
  }

  function drawRegion(box, region, color, who) {
    const v = region.value || {};
    const label = labelsOf(v).join(", ") + (who ? ` (${who})` : "");
    let node = null;
    if (region.type === "rectanglelabels") {
      node = el("div", { class: "region", title: label }, el("span", { text: label }));
      Object.assign(node.style, { left: v.x + "%", top: v.y + "%", width: v.width + "%", height: v.height + "%", borderColor: color });
    } else if (region.type === "keypointlabels") {
      node = el("div", { class: "region", title: label }, el("span", { text: label }));
      Object.assign(node.style, { left: v.x + "%", top: v.y + "%", width: "6px", height: "6px", borderColor: color, background: color });
    } else if (region.type === "polygonlabels" && (v.points || []).length) {
      const xs = v.points.map((p) => p[0]), ys = v.points.map((p) => p[1]);
      node = el("div", { class: "region", title: label + " (polygon bounds)" }, el("span", { text: label }));
      Object.assign(node.style, { left: Math.min(...xs) + "%", top: Math.min(...ys) + "%", width: (Math.max(...xs) - Math.min(...xs)) + "%",
        height: (Math.max(...ys) - Math.min(...ys)) + "%", borderColor: color, borderStyle: "dashed" });
    }
    if (node) {
      node.firstChild.style.background = color;
      box.append(node);
    }
    return node;
  }

  /* Text with the spans of one result marked (code-point offsets, as the API stores them). */
  function markText(text, spans) {
    const chars = Array.from(text || "");
    const node = el("div", { class: "task-text" });
    const sorted = spans.map((s) => s.value).filter((v) => typeof v.start === "number").sort((a, b) => a.start - b.start);
    let at = 0;
    for (const span of sorted) {
      if (span.start < at) continue; // overlapping: the list beside shows it
      node.append(chars.slice(at, span.start).join(""));
      node.append(el("mark", { class: "span", title: labelsOf(span).join(", ") }, [chars.slice(span.start, span.end).join(""),
        el("sub", { text: " " + labelsOf(span).join(", ") })]));
      at = span.end;
    }
    node.append(chars.slice(at).join(""));
    return node;
  }

  window.QMResults = { renderTask, resultList, describe };
})();
