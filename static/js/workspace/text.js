/* Labeling workspace, part 3: text and spans over it. Select with the mouse, or with the keyboard (focus the
   text; ←/→ move the caret, Shift+←/→ extend, Ctrl+Shift+←/→ by word), then press a label key or click a label.
   Click a marked span (or pick it in the region list) to select it: a label key relabels it, Delete removes it,
   Alt+←/→ moves its start, Alt+Shift+←/→ its end. Overlapping spans show as stacked underlines.
   Offsets in results are Unicode code points, as the API counts them. */
(function () {
  "use strict";
  const el = QW.el;

  function cpOffset(text, utf16) { return Array.from(text.slice(0, utf16)).length; }
  function utf16Offset(text, cp) { return Array.from(text).slice(0, cp).join("").length; }

  function textObject(field, text, spanControls, state, hooks) {
    const container = el("div", { class: "text-object", tabindex: "0", role: "region", dataset: { field: field },
                                  "aria-label": spanControls.length ? "Text to label: select words, then press a label key" : "Text" });
    const wrapper = el("div", {});
    const buttons = [];
    let pending = null; // {start, end} utf16, end exclusive, the keyboard/mouse selection not yet labelled
    let caret = 0;
    let anchor = 0;
    let pointerDown = false; // a mouse selection in progress: no re-render under it
    let justSelected = false;

    for (const [name, control] of spanControls) {
      const picker = QW.controls.labelButtons(name, control, state, function (value) { label(name, control, value); });
      buttons.push({ name: name, control: control, picker: picker });
      wrapper.append(el("div", { class: "ws-label-row" }, el("span", { class: "visually-hidden" }, name + ":"), picker.node));
    }
    wrapper.append(container);

    function spans() {
      const names = new Set(spanControls.map(function (pair) { return pair[0]; }));
      return state.result.filter(function (item) { return names.has(item.from_name) && item.type === "labels"; })
        .map(function (item) {
          return { item: item, start: utf16Offset(text, item.value.start), end: utf16Offset(text, item.value.end) };
        });
    }

    function controlOf(name) {
      const found = spanControls.find(function (pair) { return pair[0] === name; });
      return found ? found[1] : {};
    }

    function label(name, control, value) {
      if (pending && pending.end > pending.start) {
        let { start, end } = pending;
        while (start < end && /\s/.test(text[start])) start++;
        while (end > start && /\s/.test(text[end - 1])) end--;
        if (end <= start) return;
        pending = null;
        window.getSelection().removeAllRanges();
        state.addRegion({ from_name: name, to_name: field, type: "labels",
                          value: { start: cpOffset(text, start), end: cpOffset(text, end), text: text.slice(start, end),
                                   labels: [value] } });
        return;
      }
      const selected = state.selected && state.find(state.selected);
      if (selected && selected.from_name === name) {
        let labels = QW.regionLabels(selected);
        if (control.multiple) labels = labels.includes(value) ? labels.filter(function (l) { return l !== value; }) : labels.concat([value]);
        else labels = [value];
        if (labels.length) state.updateValue(selected.id, { labels: labels });
      }
    }

    function render() {
      const marks = spans();
      const cuts = new Set([0, text.length]);
      for (const mark of marks) { cuts.add(mark.start); cuts.add(mark.end); }
      if (pending) { cuts.add(pending.start); cuts.add(pending.end); }
      if (document.activeElement === container) { cuts.add(caret); cuts.add(Math.min(caret + 1, text.length)); }
      const points = Array.from(cuts).filter(function (n) { return n >= 0 && n <= text.length; }).sort(function (a, b) { return a - b; });
      container.replaceChildren();
      for (let i = 0; i < points.length - 1; i++) {
        const a = points[i], b = points[i + 1];
        if (a === b) continue;
        const covering = marks.filter(function (m) { return m.start <= a && m.end >= b; });
        const node = el("span", { dataset: { a: String(a) } }, text.slice(a, b));
        if (covering.length) {
          covering.sort(function (x, y) { return (y.start - x.start) || (x.end - y.end); }); // innermost last
          const top = covering[covering.length - 1].item;
          const color = QW.labelColor(controlOf(top.from_name), QW.regionLabels(top)[0]);
          node.classList.add("span-mark");
          if (covering.length > 1) node.classList.add("depth-2");
          node.style.setProperty("--swatch", color);
          node.dataset.region = top.id;
          node.title = covering.map(function (m) { return QW.regionLabels(m.item).join(", ") + ": " + m.item.value.text; }).join("\n");
          if (covering.some(function (m) { return m.item.id === state.selected; })) node.classList.add("selected");
        }
        if (pending && a >= pending.start && b <= pending.end && pending.end > pending.start) node.classList.add("span-caret");
        if (document.activeElement === container && a === caret && (!pending || pending.end === pending.start)) node.classList.add("span-cursor");
        container.append(node);
      }
      for (const b of buttons) b.picker.render();
      QW.controls.paintSwatches(wrapper);
    }

    function offsetIn(node, offset) {
      const range = document.createRange();
      range.setStart(container, 0);
      range.setEnd(node, offset);
      return range.toString().length;
    }

    container.addEventListener("pointerdown", function () { pointerDown = true; });
    container.addEventListener("mouseup", function () {
      pointerDown = false;
      const selection = window.getSelection();
      if (!selection.rangeCount || selection.isCollapsed) return;
      const range = selection.getRangeAt(0);
      if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return;
      const start = offsetIn(range.startContainer, range.startOffset);
      const end = offsetIn(range.endContainer, range.endOffset);
      pending = { start: Math.min(start, end), end: Math.max(start, end) };
      anchor = pending.start;
      caret = pending.end;
      justSelected = true;
      state.select(null);
      render();
    });
    container.addEventListener("click", function (event) {
      if (justSelected) { justSelected = false; return; }
      const selection = window.getSelection();
      if (selection && !selection.isCollapsed) return;
      const mark = event.target.closest("[data-region]");
      if (mark) {
        pending = null;
        state.select(mark.dataset.region);
      }
      if (event.target.dataset && event.target.dataset.a !== undefined) caret = anchor = Number(event.target.dataset.a);
    });
    container.addEventListener("focus", function () { if (!pointerDown) render(); });
    container.addEventListener("blur", function () { window.setTimeout(render, 0); });

    function wordBoundary(from, direction) {
      let i = from;
      if (direction > 0) {
        while (i < text.length && /\s/.test(text[i])) i++;
        while (i < text.length && !/\s/.test(text[i])) i++;
      } else {
        while (i > 0 && /\s/.test(text[i - 1])) i--;
        while (i > 0 && !/\s/.test(text[i - 1])) i--;
      }
      return i;
    }

    /* Keys while the text has focus: caret moves, selections, span edits; label keys go to the span controls. */
    function onKey(event) {
      const focused = document.activeElement === container;
      const selected = state.selected && state.find(state.selected);
      const ownSelected = selected && spanControls.some(function (pair) { return pair[0] === selected.from_name; });
      if (focused && (event.key === "ArrowLeft" || event.key === "ArrowRight" || event.key === "Home" || event.key === "End")) {
        const direction = event.key === "ArrowRight" || event.key === "End" ? 1 : -1;
        if (event.altKey && ownSelected) { // edit the selected span's start (Alt) or end (Alt+Shift)
          const start = utf16Offset(text, selected.value.start), end = utf16Offset(text, selected.value.end);
          let s = start, e = end;
          if (event.shiftKey) e = Math.max(s + 1, Math.min(text.length, e + direction));
          else s = Math.min(e - 1, Math.max(0, s + direction));
          state.updateValue(selected.id, { start: cpOffset(text, s), end: cpOffset(text, e), text: text.slice(s, e) });
          return true;
        }
        let next;
        if (event.key === "Home") next = 0;
        else if (event.key === "End") next = text.length;
        else if (event.ctrlKey) next = wordBoundary(caret, direction);
        else next = Math.max(0, Math.min(text.length, caret + direction));
        if (!event.shiftKey) anchor = next;
        caret = next;
        pending = { start: Math.min(anchor, caret), end: Math.max(anchor, caret) };
        if (pending.end === pending.start) pending = event.shiftKey ? pending : null;
        if (event.shiftKey) state.select(null);
        render();
        return true;
      }
      if (focused && event.key === "Escape") {
        pending = null;
        state.select(null);
        render();
        return true;
      }
      if (pending && pending.end > pending.start || ownSelected || focused) {
        for (const b of buttons) if (b.picker.onKey(event)) return true;
      }
      return false;
    }

    function hasFocus() { return document.activeElement === container || !!(pending && pending.end > pending.start); }

    return { node: wrapper, render: render, onKey: onKey, hasFocus: hasFocus, container: container };
  }

  QW.text = { textObject: textObject, cpOffset: cpOffset, utf16Offset: utf16Offset };
})();
