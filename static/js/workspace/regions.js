/* Labeling workspace, part 1: the result being edited (Label Studio region items), undo/redo, selection,
   hotkey parsing and label colors. Everything else (controls.js, text.js, image.js, label.js) reads and
   changes the result through window.QW.state. */
(function () {
  "use strict";

  const PALETTE = ["#2447b8", "#c2410c", "#15803d", "#9d174d", "#6d28d9", "#0e7490", "#a16207", "#be123c",
                   "#4d7c0f", "#1d4ed8"];
  const REGION_TYPES = { spans: "labels", bbox: "rectanglelabels", polygon: "polygonlabels",
                         keypoints: "keypointlabels" };

  function uid() {
    return Math.random().toString(36).slice(2, 12);
  }

  function labelColor(control, value) {
    const labels = control.labels || [];
    const index = labels.findIndex(function (label) { return label.value === value; });
    const label = labels[index];
    return (label && label.color) || PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
  }

  /* "ctrl+1" → {key: "1", ctrl: true, …}; matches(event) compares a keydown to it. */
  function parseHotkey(text) {
    if (!text) return null;
    const parts = String(text).toLowerCase().split("+");
    const key = parts.pop();
    const mods = new Set(parts.map(function (m) {
      return { control: "ctrl", cmd: "meta", command: "meta", option: "alt", mod: "ctrl" }[m] || m;
    }));
    const names = { esc: "escape", space: " ", up: "arrowup", down: "arrowdown", left: "arrowleft", right: "arrowright",
                    del: "delete" };
    return { key: names[key] || key, ctrl: mods.has("ctrl"), shift: mods.has("shift"), alt: mods.has("alt"),
             meta: mods.has("meta"), text: text };
  }

  function hotkeyMatches(hotkey, event) {
    if (!hotkey) return false;
    const key = (event.key || "").toLowerCase();
    // Shift changes the key itself for digits and symbols; a one-character hotkey without shift matches either.
    if (key !== hotkey.key && !(hotkey.key.length === 1 && event.code && codeKey(event.code) === hotkey.key)) return false;
    return event.ctrlKey === hotkey.ctrl && event.altKey === hotkey.alt && event.metaKey === hotkey.meta &&
      (hotkey.shift ? event.shiftKey : (hotkey.key.length !== 1 || !event.shiftKey || /[^a-z0-9]/.test(hotkey.key)));
  }

  function codeKey(code) {
    if (code.startsWith("Digit")) return code.slice(5);
    if (code.startsWith("Key")) return code.slice(3).toLowerCase();
    return "";
  }

  /* The state: the result, who is selected, and the undo/redo history of whole results. */
  class State {
    constructor() {
      this.result = [];
      this.selected = null; // a region id
      this.undoStack = [];
      this.redoStack = [];
      this.listeners = [];
      this.perRegion = {}; // per_region control name → the data field its regions are on
    }

    reset(result) {
      this.result = JSON.parse(JSON.stringify(result || []));
      for (const item of this.result) if (!item.id) item.id = uid();
      this.selected = null;
      this.undoStack = [];
      this.redoStack = [];
      this.emit({ reset: true });
    }

    onChange(listener) { this.listeners.push(listener); }

    emit(change) {
      for (const listener of this.listeners) listener(change || {});
    }

    /* Change the result: `mutate(result)` edits a copy in place; one undo step. */
    change(mutate, options) {
      const before = JSON.stringify(this.result);
      const next = JSON.parse(before);
      mutate(next);
      this.syncPerRegion(next);
      const after = JSON.stringify(next);
      if (after === before) return;
      if (!(options && options.merge && this.undoStack.length)) this.undoStack.push(before);
      if (this.undoStack.length > 200) this.undoStack.shift();
      this.redoStack = [];
      this.result = next;
      if (this.selected && !this.find(this.selected)) this.selected = null;
      this.emit({ edited: true });
    }

    undo() {
      if (!this.undoStack.length) return;
      this.redoStack.push(JSON.stringify(this.result));
      this.result = JSON.parse(this.undoStack.pop());
      if (this.selected && !this.find(this.selected)) this.selected = null;
      this.emit({ edited: true, history: true });
    }

    redo() {
      if (!this.redoStack.length) return;
      this.undoStack.push(JSON.stringify(this.result));
      this.result = JSON.parse(this.redoStack.pop());
      this.emit({ edited: true, history: true });
    }

    select(id) {
      if (this.selected === id) return;
      this.selected = id;
      this.emit({ selection: true });
    }

    /* The region with this id (a per-region item shares its region's id, so regions come first). */
    find(id) {
      return this.result.find(function (item) { return item.id === id && isRegion(item); }) ||
        this.result.find(function (item) { return item.id === id; }) || null;
    }

    /* The region a per_region control now speaks about: the selected one, if it is on that control's object. */
    targetRegion(name) {
      const to = this.perRegion[name];
      if (to === undefined) return null;
      const region = this.selected && this.find(this.selected);
      return region && isRegion(region) && region.to_name === to ? region : null;
    }

    /* Per-region items repeat their region's value fields (Label Studio's format): keep them equal, and drop
       the items of deleted regions. */
    syncPerRegion(result) {
      const regions = {};
      for (const item of result) if (isRegion(item)) regions[item.id] = item;
      for (let i = result.length - 1; i >= 0; i--) {
        const item = result[i];
        if (this.perRegion[item.from_name] === undefined || isRegion(item)) continue;
        const region = regions[item.id];
        if (!region) { result.splice(i, 1); continue; }
        const own = ownValue(item);
        item.value = Object.assign(regionFields(region), own);
      }
    }

    itemsOf(name) { return this.result.filter(function (item) { return item.from_name === name; }); }

    /* The one item of a whole-task control (choices, textarea, rating), or null. */
    /* The one item of a whole-task control (choices, textarea, rating), or with per_region, the selected
       region's item of it; null if none. */
    whole(name) {
      if (this.perRegion[name] !== undefined) {
        const region = this.targetRegion(name);
        return region ? this.result.find(function (item) {
          return item.from_name === name && item.id === region.id && !isRegion(item);
        }) || null : null;
      }
      return this.result.find(function (item) { return item.from_name === name && item.type !== "relation"; }) || null;
    }

    setWhole(name, to, type, value) {
      const perRegion = this.perRegion[name] !== undefined;
      const region = perRegion ? this.targetRegion(name) : null;
      if (perRegion && !region) return; // nothing selected to say it about
      this.change(function (result) {
        const index = result.findIndex(function (item) {
          return item.from_name === name && (!region || (item.id === region.id && !isRegion(item)));
        });
        if (value === null) {
          if (index >= 0) result.splice(index, 1);
          return;
        }
        const id = region ? region.id : (index >= 0 ? result[index].id : uid());
        const item = { id: id, from_name: name, to_name: to, type: type,
                       value: region ? Object.assign(regionFields(region), value) : value };
        if (index >= 0) result[index] = item; else result.push(item);
      }, { merge: type === "textarea" && this.lastTyping === name });
    }

    addRegion(item) {
      item.id = item.id || uid();
      this.change(function (result) { result.push(item); });
      this.select(item.id);
      return item.id;
    }

    removeRegion(id) {
      this.change(function (result) {
        for (let i = result.length - 1; i >= 0; i--) {
          const item = result[i];
          if (item.id === id || (item.type === "relation" && (item.from_id === id || item.to_id === id))) result.splice(i, 1);
        }
      });
    }

    updateValue(id, patch) {
      this.change(function (result) {
        const item = result.find(function (i) { return i.id === id; });
        if (item) Object.assign(item.value, patch);
      });
    }
  }

  const REGION_RESULT = new Set(Object.values(REGION_TYPES));
  function isRegion(item) { return REGION_RESULT.has(item.type); }
  const OWN_KEYS = ["choices", "taxonomy", "text", "rating"];
  function regionFields(region) {
    const fields = JSON.parse(JSON.stringify(region.value || {}));
    delete fields[region.type];
    return fields;
  }
  function ownValue(item) {
    const own = {};
    for (const key of OWN_KEYS) if (item.value && key in item.value) own[key] = item.value[key];
    return own;
  }

  function regionLabels(item) {
    const key = item.type;
    return (item.value && item.value[key]) || [];
  }

  function describeRegion(item) {
    const v = item.value || {};
    const labels = regionLabels(item).join(", ") || "(no label)";
    if (item.type === "labels") return labels + ": “" + (v.text || "") + "”";
    if (item.type === "rectanglelabels") return labels + " box";
    if (item.type === "polygonlabels") return labels + " polygon (" + (v.points || []).length + " points)";
    if (item.type === "keypointlabels") return labels + " point";
    return labels;
  }

  window.QW = { State: State, uid: uid, labelColor: labelColor, parseHotkey: parseHotkey,
                hotkeyMatches: hotkeyMatches, REGION_TYPES: REGION_TYPES, regionLabels: regionLabels, isRegion: isRegion,
                describeRegion: describeRegion, el: window.Quorum.el };
})();
