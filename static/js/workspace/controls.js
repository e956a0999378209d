/* Labeling workspace, part 2: the whole-task controls (choices flat or hierarchical, textarea, rating) and the
   label buttons of region controls. Each builder returns {node, render(), onKey(event) → handled}. */
(function () {
  "use strict";
  const el = QW.el;

  function hotkeyBadge(label) {
    return label.hotkey ? el("span", { class: "hotkey", "aria-hidden": "true" }, label.hotkey) : null;
  }

  function legend(name, control, text) {
    return el("legend", { class: control.required ? "required" : null }, text || name);
  }

  function hierarchical(control) {
    return (control.labels || []).some(function (label) { return label.children && label.children.length; });
  }

  /* Flat choices: toggle buttons (aria-pressed) with their hotkeys; single or multiple. */
  function flatChoices(name, control, state) {
    const asTaxonomy = control.taxonomy === true;
    const type = asTaxonomy ? "taxonomy" : "choices";
    const buttons = [];
    const row = el("div", { class: "choice-row", role: "group", "aria-label": name });
    const hotkeys = [];
    function chosen() {
      const item = state.whole(name);
      if (!item) return [];
      const values = item.value[type] || [];
      return values.map(function (v) { return Array.isArray(v) ? v[v.length - 1] : v; });
    }
    function toggle(value) {
      let values = chosen();
      if (control.multiple) {
        values = values.includes(value) ? values.filter(function (v) { return v !== value; }) : values.concat([value]);
      } else {
        values = values.includes(value) ? [] : [value];
      }
      const stored = asTaxonomy ? values.map(function (v) { return [v]; }) : values;
      state.setWhole(name, control.to, type, values.length ? { [type]: stored } : null);
    }
    for (const label of control.labels || []) {
      const button = el("button", { type: "button", class: "choice", "aria-pressed": "false", dataset: { value: label.value },
                                    title: label.hotkey ? "Key: " + label.hotkey : null,
                                    onclick: function () { toggle(label.value); } },
                        label.color ? el("span", { class: "swatch", "data-color": label.color }) : null,
                        label.value, hotkeyBadge(label));
      buttons.push(button);
      row.append(button);
      hotkeys.push([QW.parseHotkey(label.hotkey), label.value]);
    }
    const node = el("fieldset", {}, legend(name, control, name + (control.multiple ? " (any that apply)" : "")), row);
    return {
      node: node,
      render: function () {
        const values = chosen();
        for (const button of buttons) button.setAttribute("aria-pressed", String(values.includes(button.dataset.value)));
      },
      onKey: function (event) {
        for (const [hotkey, value] of hotkeys) {
          if (QW.hotkeyMatches(hotkey, event)) { toggle(value); return true; }
        }
        return false;
      },
    };
  }

  /* Hierarchical choices: a tree of checkboxes (multiple) or radios (single), a filter box, expand/collapse.
     Paths go into {"taxonomy": [[…]]} or, without taxonomy, nested {"choices": [[…]]}. */
  function taxonomyPicker(name, control, state) {
    const type = control.taxonomy === false ? "choices" : "taxonomy";
    const leafsOnly = control.leafs_only !== false;
    const inputs = [];
    const hotkeys = [];
    const filter = el("input", { type: "search", class: "tax-filter", placeholder: "Filter labels…",
                                 "aria-label": "Filter " + name + " labels" });
    function paths() {
      const item = state.whole(name);
      return item ? (item.value[type] || []).map(function (p) { return Array.isArray(p) ? p : [p]; }) : [];
    }
    function key(path) { return JSON.stringify(path); }
    function setPath(path, on) {
      let current = paths().filter(function (p) { return key(p) !== key(path); });
      if (on) current = control.multiple ? current.concat([path]) : [path];
      state.setWhole(name, control.to, type, current.length ? { [type]: current } : null);
    }
    function build(labels, trail, depth) {
      const list = el("ul", { class: depth ? null : "tax-tree", role: depth ? "group" : "tree", "aria-label": depth ? null : name });
      for (const label of labels) {
        const path = trail.concat([label.value]);
        const hasChildren = !!(label.children && label.children.length);
        const selectable = !(hasChildren && leafsOnly);
        const id = "tax-" + name + "-" + QW.uid();
        const item = el("li", { dataset: { text: path.join(" / ").toLowerCase() } });
        let childList = null;
        const toggleButton = hasChildren ? el("button", { type: "button", class: "toggle", "aria-expanded": "true",
                                                          "aria-label": "Collapse " + label.value }, "▾") : el("span", { class: "toggle" });
        item.append(toggleButton);
        if (selectable) {
          const input = el("input", { type: control.multiple ? "checkbox" : "radio", id: id, name: "tax-" + name,
                                      dataset: { path: key(path) },
                                      onchange: function (event) { setPath(path, event.target.checked); } });
          inputs.push(input);
          item.append(input, el("label", { for: id }, " " + label.value, hotkeyBadge(label)));
          if (label.hotkey) hotkeys.push([QW.parseHotkey(label.hotkey), path]);
        } else {
          item.append(el("span", {}, " " + label.value));
        }
        if (hasChildren) {
          childList = build(label.children, path, depth + 1);
          item.append(childList);
          toggleButton.addEventListener("click", function () {
            const open = childList.hidden;
            childList.hidden = !open;
            toggleButton.textContent = open ? "▾" : "▸";
            toggleButton.setAttribute("aria-expanded", String(open));
            toggleButton.setAttribute("aria-label", (open ? "Collapse " : "Expand ") + label.value);
          });
        }
        list.append(item);
      }
      return list;
    }
    const tree = build(control.labels || [], [], 0);
    filter.addEventListener("input", function () {
      const needle = filter.value.trim().toLowerCase();
      for (const li of tree.querySelectorAll("li")) {
        li.hidden = needle && !li.dataset.text.includes(needle) && !li.querySelector('li[data-text*="' + CSS.escape(needle) + '"]');
      }
    });
    const node = el("fieldset", {}, legend(name, control, name + (control.multiple ? " (any that apply)" : "")), filter, tree);
    return {
      node: node,
      render: function () {
        const chosen = new Set(paths().map(key));
        for (const input of inputs) input.checked = chosen.has(input.dataset.path);
      },
      onKey: function (event) {
        for (const [hotkey, path] of hotkeys) {
          if (QW.hotkeyMatches(hotkey, event)) {
            setPath(path, !new Set(paths().map(key)).has(key(path)));
            return true;
          }
        }
        return false;
      },
    };
  }

  function textarea(name, control, state) {
    const id = "ta-" + name;
    const area = el("textarea", { id: id, rows: "4", maxlength: control.max_length || null });
    area.addEventListener("input", function () {
      state.lastTyping = name;
      state.setWhole(name, control.to, "textarea", area.value ? { text: [area.value] } : null);
    });
    area.addEventListener("blur", function () { state.lastTyping = null; });
    const node = el("div", {}, el("label", { for: id, class: control.required ? "required" : null }, name), area);
    return {
      node: node,
      render: function () {
        const item = state.whole(name);
        const text = item ? (item.value.text || []).join("\n") : "";
        if (document.activeElement !== area && area.value !== text) area.value = text;
        if (document.activeElement === area && area.value !== text && !state.lastTyping) area.value = text;
      },
      onKey: function () { return false; },
    };
  }

  function rating(name, control, state) {
    const max = control.max || 5;
    const group = el("div", { class: "rating", role: "radiogroup", "aria-label": name });
    const buttons = [];
    for (let n = 1; n <= max; n++) {
      const button = el("button", { type: "button", role: "radio", "aria-checked": "false", "aria-label": n + " of " + max,
                                    onclick: function () {
                                      const item = state.whole(name);
                                      const same = item && item.value.rating === n;
                                      state.setWhole(name, control.to, "rating", same ? null : { rating: n });
                                    } }, max <= 10 ? "★".repeat(1) + n : String(n));
      buttons.push(button);
      group.append(button);
    }
    const node = el("fieldset", {}, legend(name, control), group);
    return {
      node: node,
      render: function () {
        const item = state.whole(name);
        const value = item ? item.value.rating : 0;
        buttons.forEach(function (button, i) { button.setAttribute("aria-checked", String(i + 1 === value)); });
      },
      onKey: function () { return false; },
    };
  }

  /* The label buttons of a region control (spans, bbox, polygon, keypoints): the active label for the next
     region, and a relabel of the selected one. `apply(value)` is called on click or hotkey. */
  function labelButtons(name, control, state, apply) {
    const row = el("div", { class: "label-buttons", role: "group", "aria-label": name + " labels" });
    const buttons = [];
    const hotkeys = [];
    let active = control.labels && control.labels.length ? control.labels[0].value : null;
    for (const label of control.labels || []) {
      const button = el("button", { type: "button", class: "label-button", "aria-pressed": "false",
                                    dataset: { value: label.value, color: QW.labelColor(control, label.value) },
                                    title: label.hotkey ? "Key: " + label.hotkey : null,
                                    onclick: function () { active = label.value; apply(label.value, false); refresh(); } },
                        el("span", { class: "swatch", dataset: { color: QW.labelColor(control, label.value) } }),
                        label.value, hotkeyBadge(label));
      buttons.push(button);
      row.append(button);
      hotkeys.push([QW.parseHotkey(label.hotkey), label.value]);
    }
    function refresh() {
      const selected = state.selected && state.find(state.selected);
      const current = selected && selected.from_name === name ? QW.regionLabels(selected) : [active];
      for (const button of buttons) button.setAttribute("aria-pressed", String(current.includes(button.dataset.value)));
    }
    return {
      node: row,
      active: function () { return active; },
      render: refresh,
      onKey: function (event) {
        for (const [hotkey, value] of hotkeys) {
          if (QW.hotkeyMatches(hotkey, event)) { active = value; apply(value, true); refresh(); return true; }
        }
        return false;
      },
    };
  }

  // Colors come from data attributes (CSP: no inline styles), set once per node.
  function paintSwatches(root) {
    for (const node of root.querySelectorAll("[data-color]")) node.style.setProperty("--swatch", node.dataset.color);
  }

  QW.controls = { flatChoices: flatChoices, taxonomyPicker: taxonomyPicker, textarea: textarea, rating: rating,
                  labelButtons: labelButtons, hierarchical: hierarchical, paintSwatches: paintSwatches };
})();
