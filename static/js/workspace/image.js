/* Labeling workspace, part 4: an image with boxes, polygons and keypoints, drawn with Konva.
   Tools: Select (move a shape, drag the handles of the selected box to resize, drag a polygon's vertices),
   Pan, Box (drag), Polygon (click the points; click the first point or press Enter to close, Esc cancels),
   Point (click). Wheel zooms about the pointer; +/− buttons and Fit; hold Space to pan with any tool.
   Coordinates in results are percent of the image, as Label Studio stores them. */
(function () {
  "use strict";
  const el = QW.el;
  const TYPE_OF = { bbox: "rectanglelabels", polygon: "polygonlabels", keypoints: "keypointlabels" };
  const TOOL_FOR = { bbox: "box", polygon: "polygon", keypoints: "point" };
  const TOOL_NAMES = { select: "Select", pan: "Pan", box: "Box", polygon: "Polygon", point: "Point" };

  function imageObject(field, url, controls, state, hooks) {
    const wrapper = el("div", { class: "image-object" });
    const toolbar = el("div", { class: "canvas-tools", role: "toolbar", "aria-label": "Image tools" });
    const holder = el("div", { class: "canvas-wrap", dataset: { field: field } });
    const pickers = [];
    const byTool = {};
    for (const [name, control] of controls) {
      const tool = TOOL_FOR[control.type];
      if (!byTool[tool]) byTool[tool] = [name, control];
      const picker = QW.controls.labelButtons(name, control, state, function (value) { relabel(name, control, value); });
      pickers.push({ name: name, control: control, picker: picker });
    }
    const tools = ["select", "pan"].concat(["box", "polygon", "point"].filter(function (t) { return byTool[t]; }));
    let tool = byTool.box ? "box" : byTool.polygon ? "polygon" : byTool.point ? "point" : "select";
    const toolButtons = {};
    for (const name of tools) {
      toolButtons[name] = el("button", { type: "button", class: "secondary small", "aria-pressed": String(name === tool),
                                         dataset: { tool: name }, onclick: function () { setTool(name); } }, TOOL_NAMES[name]);
      toolbar.append(toolButtons[name]);
    }
    toolbar.append(
      el("button", { type: "button", class: "secondary small", "aria-label": "Zoom in", onclick: function () { zoomBy(1.25); } }, "+"),
      el("button", { type: "button", class: "secondary small", "aria-label": "Zoom out", onclick: function () { zoomBy(0.8); } }, "−"),
      el("button", { type: "button", class: "secondary small", onclick: function () { fit(); } }, "Fit"),
    );
    wrapper.append(toolbar);
    const labelRow = el("div", { class: "ws-label-row inline" });
    for (const p of pickers) labelRow.append(el("span", { class: "label-group" }, el("span", { class: "muted" }, p.name + ":"), p.picker.node));
    wrapper.append(labelRow);
    wrapper.append(holder);

    let stage = null, layer = null, shapes = null, transformer = null, imageNode = null;
    let width = 1, height = 1; // natural image size
    let draft = null; // polygon points being drawn (image px)
    let drawing = null; // box being dragged out
    let spaceDown = false;
    const ready = new Promise(function (resolve, reject) {
      const img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("the image could not be loaded: " + url)); };
      img.src = url;
    });

    function controlOf(name) { return (controls.find(function (pair) { return pair[0] === name; }) || [null, {}])[1]; }
    function activeLabel(toolName) {
      const pair = byTool[toolName];
      const picker = pickers.find(function (p) { return p.name === pair[0]; });
      return picker.picker.active();
    }

    function setTool(name) {
      tool = name;
      draft = null;
      for (const [key, button] of Object.entries(toolButtons)) button.setAttribute("aria-pressed", String(key === name));
      if (layer) layer.draggable(name === "pan" || spaceDown);
      holder.dataset.tool = name;
      render();
    }

    function relabel(name, control, value) {
      const selected = state.selected && state.find(state.selected);
      if (selected && selected.from_name === name) {
        const key = TYPE_OF[control.type];
        let labels = selected.value[key] || [];
        if (control.multiple) labels = labels.includes(value) ? labels.filter(function (l) { return l !== value; }) : labels.concat([value]);
        else labels = [value];
        if (labels.length) state.updateValue(selected.id, { [key]: labels });
      } else if (TOOL_FOR[control.type] !== tool) {
        setTool(TOOL_FOR[control.type]);
      }
    }

    function pct(px, whole) { return Math.max(0, Math.min(100, (px / whole) * 100)); }
    function px(percent, whole) { return (percent / 100) * whole; }
    function pointer() { return layer.getRelativePointerPosition(); }
    function clampPoint(p) { return { x: Math.max(0, Math.min(width, p.x)), y: Math.max(0, Math.min(height, p.y)) }; }

    function addRegion(control, name, value) {
      state.addRegion({ from_name: name, to_name: field, type: TYPE_OF[control.type], original_width: width,
                        original_height: height, image_rotation: 0, value: value });
    }

    function mount(img) {
      width = img.naturalWidth; height = img.naturalHeight;
      const viewWidth = Math.max(320, holder.clientWidth || 900);
      // As tall as the image at this width, but no taller than what is left of the window below the toolbar.
      const top = holder.getBoundingClientRect().top + window.scrollY;
      const viewHeight = Math.max(320, Math.min(window.innerHeight - Math.min(top, 400) - 16, Math.round(viewWidth * height / width)));
      stage = new Konva.Stage({ container: holder, width: viewWidth, height: viewHeight });
      layer = new Konva.Layer();
      imageNode = new Konva.Image({ image: img, x: 0, y: 0, width: width, height: height, name: "background" });
      shapes = new Konva.Group();
      transformer = new Konva.Transformer({ rotateEnabled: false, keepRatio: false, ignoreStroke: true,
                                            borderStroke: "#ffbf47", anchorStroke: "#1d2330", anchorFill: "#ffbf47" });
      layer.add(imageNode, shapes, transformer);
      stage.add(layer);
      fit();
      stage.on("wheel", function (event) {
        event.evt.preventDefault();
        zoomBy(event.evt.deltaY < 0 ? 1.1 : 1 / 1.1, stage.getPointerPosition());
      });
      stage.on("mousedown touchstart", onDown);
      stage.on("mousemove touchmove", onMove);
      stage.on("mouseup touchend", onUp);
      stage.on("dblclick", function () { if (tool === "polygon" && draft && draft.length >= 3) closePolygon(); });
      holder.tabIndex = 0;
      holder.setAttribute("role", "application");
      holder.setAttribute("aria-label", "Image: draw with the chosen tool; Delete removes the selected shape");
      render();
    }

    function fit() {
      if (!stage) return;
      const scale = Math.min(stage.width() / width, stage.height() / height);
      layer.scale({ x: scale, y: scale });
      layer.position({ x: (stage.width() - width * scale) / 2, y: (stage.height() - height * scale) / 2 });
      render();
    }

    function zoomBy(factor, around) {
      if (!stage) return;
      const old = layer.scaleX();
      const scale = Math.max(0.05, Math.min(40, old * factor));
      const center = around || { x: stage.width() / 2, y: stage.height() / 2 };
      const point = { x: (center.x - layer.x()) / old, y: (center.y - layer.y()) / old };
      layer.scale({ x: scale, y: scale });
      layer.position({ x: center.x - point.x * scale, y: center.y - point.y * scale });
      render();
    }

    function onBackground(event) {
      return event.target === stage || event.target === imageNode;
    }

    function onDown(event) {
      if (tool === "pan" || spaceDown) return;
      if (tool === "box" && onBackground(event)) {
        const p = clampPoint(pointer());
        drawing = { x0: p.x, y0: p.y, rect: new Konva.Rect({ x: p.x, y: p.y, width: 0, height: 0, stroke: "#ffbf47",
                                                             strokeWidth: 2 / layer.scaleX(), dash: [6, 4] }) };
        layer.add(drawing.rect);
      } else if (tool === "point" && onBackground(event)) {
        const [name, control] = byTool.point;
        const p = clampPoint(pointer());
        addRegion(control, name, { x: pct(p.x, width), y: pct(p.y, height), width: 0.5, keypointlabels: [activeLabel("point")] });
      } else if (tool === "polygon" && (onBackground(event) || event.target.name() === "draft-start")) {
        const p = clampPoint(pointer());
        if (draft && draft.length >= 3 && event.target.name() === "draft-start") { closePolygon(); return; }
        draft = (draft || []).concat([[p.x, p.y]]);
        render();
      } else if (onBackground(event)) {
        state.select(null);
      }
    }

    function onMove() {
      if (!drawing) return;
      const p = clampPoint(pointer());
      drawing.rect.setAttrs({ x: Math.min(p.x, drawing.x0), y: Math.min(p.y, drawing.y0),
                              width: Math.abs(p.x - drawing.x0), height: Math.abs(p.y - drawing.y0) });
      layer.batchDraw();
    }

    function onUp() {
      if (!drawing) return;
      const rect = drawing.rect;
      const box = { x: rect.x(), y: rect.y(), w: rect.width(), h: rect.height() };
      rect.destroy();
      drawing = null;
      if (box.w * layer.scaleX() < 4 || box.h * layer.scaleX() < 4) { layer.batchDraw(); return; }
      const [name, control] = byTool.box;
      addRegion(control, name, { x: pct(box.x, width), y: pct(box.y, height), width: pct(box.w, width),
                                 height: pct(box.h, height), rotation: 0, rectanglelabels: [activeLabel("box")] });
    }

    function closePolygon() {
      const [name, control] = byTool.polygon;
      const points = draft.map(function (p) { return [pct(p[0], width), pct(p[1], height)]; });
      draft = null;
      addRegion(control, name, { points: points, closed: true, polygonlabels: [activeLabel("polygon")] });
    }

    function tint(color) {
      let hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
      if (!hex) return "rgba(255, 191, 71, 0.15)";
      hex = hex[1].length === 3 ? hex[1].split("").map(function (c) { return c + c; }).join("") : hex[1];
      return "#" + hex + "26";
    }

    function colorOf(item) {
      return QW.labelColor(controlOf(item.from_name), QW.regionLabels(item)[0]);
    }

    function render() {
      if (!stage) return;
      shapes.destroyChildren();
      transformer.nodes([]);
      const k = 1 / layer.scaleX();
      const names = new Set(controls.map(function (pair) { return pair[0]; }));
      const editable = tool === "select";
      for (const item of state.result) {
        if (!names.has(item.from_name) || item.to_name !== field) continue;
        const color = colorOf(item);
        const selected = item.id === state.selected;
        const v = item.value;
        let node;
        if (item.type === "rectanglelabels") {
          node = new Konva.Rect({ x: px(v.x, width), y: px(v.y, height), width: px(v.width, width), height: px(v.height, height),
                                  rotation: v.rotation || 0, stroke: color, strokeWidth: (selected ? 3 : 2) * k,
                                  fill: tint(color), draggable: editable, name: "region" });
          node.on("dragend", function () {
            state.updateValue(item.id, { x: pct(node.x(), width), y: pct(node.y(), height) });
          });
          node.on("transformend", function () {
            const w = node.width() * node.scaleX(), h = node.height() * node.scaleY();
            node.scale({ x: 1, y: 1 });
            state.updateValue(item.id, { x: pct(node.x(), width), y: pct(node.y(), height), width: pct(w, width), height: pct(h, height) });
          });
          if (selected && editable) transformer.nodes([node]);
        } else if (item.type === "polygonlabels") {
          const flat = [];
          for (const p of v.points) flat.push(px(p[0], width), px(p[1], height));
          node = new Konva.Line({ points: flat, closed: v.closed !== false, stroke: color, strokeWidth: (selected ? 3 : 2) * k,
                                  fill: tint(color), name: "region" });
          if (selected && editable) {
            v.points.forEach(function (p, index) {
              const handle = new Konva.Circle({ x: px(p[0], width), y: px(p[1], height), radius: 6 * k, fill: "#ffbf47",
                                                stroke: "#1d2330", strokeWidth: k, draggable: true, name: "vertex" });
              handle.on("dragmove", function () {
                flat[index * 2] = handle.x(); flat[index * 2 + 1] = handle.y();
                node.points(flat);
              });
              handle.on("dragend", function () {
                const c = clampPoint({ x: handle.x(), y: handle.y() });
                const points = v.points.map(function (q) { return q.slice(); });
                points[index] = [pct(c.x, width), pct(c.y, height)];
                state.updateValue(item.id, { points: points });
              });
              shapes.add(handle);
            });
          }
        } else if (item.type === "keypointlabels") {
          node = new Konva.Circle({ x: px(v.x, width), y: px(v.y, height), radius: (selected ? 7 : 5) * k, fill: color,
                                    stroke: "#fff", strokeWidth: 1.5 * k, draggable: editable, name: "region" });
          node.on("dragend", function () {
            const c = clampPoint({ x: node.x(), y: node.y() });
            state.updateValue(item.id, { x: pct(c.x, width), y: pct(c.y, height) });
          });
        }
        if (!node) continue;
        node.on("mousedown touchstart", function (event) {
          if (tool === "select") { event.cancelBubble = true; state.select(item.id); hooks.regionClicked(item.id); }
        });
        node.on("click tap", function () { if (tool !== "select") { state.select(item.id); hooks.regionClicked(item.id); } });
        shapes.add(node);
        if (node.name() === "region" && item.type === "polygonlabels") node.moveToBottom();
      }
      if (draft) {
        const flat = [];
        for (const p of draft) flat.push(p[0], p[1]);
        shapes.add(new Konva.Line({ points: flat, stroke: "#ffbf47", strokeWidth: 2 * k, dash: [6 * k, 4 * k] }));
        draft.forEach(function (p, index) {
          shapes.add(new Konva.Circle({ x: p[0], y: p[1], radius: (index === 0 ? 7 : 4) * k, fill: index === 0 ? "#ffbf47" : "#fff",
                                        stroke: "#1d2330", strokeWidth: k, name: index === 0 ? "draft-start" : "draft" }));
        });
      }
      transformer.moveToTop();
      layer.batchDraw();
      for (const p of pickers) p.picker.render();
      QW.controls.paintSwatches(wrapper);
    }

    /* loose: a label key picks the active label even with nothing selected and no focus here. */
    function onKey(event, loose) {
      if (event.key === " " && (document.activeElement === holder || spaceDown)) {
        spaceDown = event.type === "keydown";
        if (layer) layer.draggable(tool === "pan" || spaceDown);
        return true;
      }
      if (event.type !== "keydown") return false;
      if (draft && event.key === "Enter" && draft.length >= 3) { closePolygon(); return true; }
      if (draft && event.key === "Escape") { draft = null; render(); return true; }
      const selected = state.selected && state.find(state.selected);
      const own = selected && controls.some(function (pair) { return pair[0] === selected.from_name; });
      if (!(own || document.activeElement === holder || (loose && !hooks.textHasFocus()))) return false;
      for (const p of pickers) {
        if (own && selected.from_name !== p.name) continue;
        if (p.picker.onKey(event)) return true;
      }
      return false;
    }

    // The stage is sized from the holder, so it is made once the view is in the page (attach) and the image is in.
    let loaded = null;
    let attached = false;
    ready.then(function (img) { loaded = img; if (attached && !stage) mount(img); })
      .catch(function (error) { Quorum.showError(error); });
    function attach() {
      attached = true;
      if (loaded && !stage) mount(loaded);
    }
    window.addEventListener("resize", function () {
      if (!stage || !holder.isConnected || !holder.clientWidth) return;
      stage.width(holder.clientWidth);
      fit();
    });
    return { node: wrapper, render: render, onKey: onKey, ready: ready, holder: holder, attach: attach };
  }

  QW.image = { imageObject: imageObject };
})();
