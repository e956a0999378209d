"""The label spec (the JSON that describes a schema version) and the one validator of results against it.

A spec names the task's data fields and the controls that label them::

    {
      "data": {"text": {"type": "text"}, "image": {"type": "image"}},
      "controls": {
        "sentiment": {"type": "choices", "to": "text", "required": true,
                      "labels": [{"value": "positive", "hotkey": "1"}, {"value": "negative", "hotkey": "2"}]},
        "topic": {"type": "choices", "to": "text", "multiple": true,
                  "labels": [{"value": "Animal", "children": [{"value": "Cat"}, {"value": "Dog"}]}]},
        "entities": {"type": "spans", "to": "text", "labels": [{"value": "PER"}, {"value": "ORG"}]},
        "objects": {"type": "bbox", "to": "image", "labels": [{"value": "quokka", "color": "#ff8800"}]},
        "outline": {"type": "polygon", "to": "image", "labels": [{"value": "quokka"}]},
        "pose": {"type": "keypoints", "to": "image", "labels": [{"value": "nose"}, {"value": "eye_left"}]},
        "transcript": {"type": "textarea", "to": "text", "max_length": 10000},
        "quality": {"type": "rating", "to": "image", "max": 5},
        "links": {"type": "relation", "labels": [{"value": "same_as"}]}
      }
    }

Data fields
    ``type`` is ``text``, ``html`` (Label Studio's HyperText), ``paragraphs`` (its Paragraphs: an array of
    objects, each paragraph's text under ``text_key``, default ``text``), ``image``, ``audio`` or ``url``
    (an image or audio is a URL or a storage key: a non-empty string either way; ``url`` is content behind
    a link). The key is the name results use as ``to_name``; ``field`` (default: the key) is the key of
    the task's data that holds the content. They differ only for Label Studio configs such as
    ``<Image name="img-1" value="$img"/>`` (name ``img-1``, field ``img``).

Controls
    ``type`` is one of ``choices`` (``multiple``; hierarchical when a label has ``children``), ``spans``
    (over text, html or paragraphs), ``html_spans`` and ``paragraph_spans`` (Label Studio's HyperTextLabels
    and ParagraphLabels), ``bbox``, ``polygon``, ``keypoints`` (over an image; the labels of ``keypoints``
    are the named points), ``textarea`` (``max_length`` per text, default none), ``rating`` (``max``,
    default 5) and ``relation`` (between two regions of one result; no ``to``). Every control has
    ``required`` (default false). ``multiple`` (default false) exists for choices and the region controls
    (labels per region). Choices only: ``taxonomy`` (default: "some label has children") makes results
    ``{"taxonomy": paths}``, else ``{"choices": …}`` (paths too when hierarchical: Label Studio's nested
    ``<Choices allowNested="true">``; ``true`` with flat labels gives its flat ``<Taxonomy>``);
    ``leafs_only`` (hierarchical only, default true) keeps inner nodes from being picked. Choices, textarea
    and rating: ``per_region`` (default false) classifies each region instead of the task. Every control
    but relation: ``visible_when``, conditions that must all hold for it to be shown, each
    ``{"when": "choice-selected" | "choice-unselected" | "region-selected" | "no-region-selected",
    "control"?, "values"?}`` (Label Studio's visibleWhen, whenTagName, whenChoiceValue and
    whenLabelValue); they only narrow ``required``. Unknown keys are errors, so a typo never passes silently.

Labels
    ``value`` (what results store), optional ``hotkey`` (one key, optionally with modifiers such as
    ``ctrl+1``; unique within the control, case-insensitive), optional ``color`` (a CSS color: ``#rgb``,
    a name or ``rgb()``/``hsl()``), optional ``children`` (choices only) and a stable ``id``: given, or
    derived from the value (slugified, deduplicated with ``-2``, ``-3``…; ``normalize_spec(previous=…)``
    keeps the id a value had in the previous version).
    **Values are unique across the whole tree of one control**, not only among siblings: a leaf value
    then names one node, so ``result_labels``, ``remap`` and the 409 ``labels_in_use`` answer can speak
    of a taxonomy label by its value alone, and remapping a leaf moves it to wherever the new tree has it.

Results (Label Studio's region format) per control type:
    choices ``{"choices": ["positive"]}`` (hierarchical: paths ``[["Animal", "Cat"]]``, a bare label being
    the path to a top-level one) · taxonomy ``{"taxonomy": [["Animal", "Cat"]]}``: full paths from the root
    to a leaf, or to any node without ``leafs_only``; without ``multiple``, one pick (an inner node listed
    with its descendants, as Label Studio's nested choices store it, is one pick) · spans ``"labels"``
    ``{"start", "end", "text", "labels"}``: offsets in Unicode code points, as Python, spaCy and current
    Label Studio count; when the quoted text is not at those offsets but is at the same offsets counted in
    UTF-16 code units (JavaScript string indices, what older Label Studio wrote), they are accepted as such ·
    spans over html and html_spans ``"hypertextlabels"`` ``{"start", "end"`` (XPaths), ``"startOffset",
    "endOffset", "globalOffsets"?, "text"?, …}`` checked for form only · spans over paragraphs and
    paragraph_spans ``"paragraphlabels"`` ``{"start", "end"`` (paragraph indices, also as digit strings),
    ``"startOffset", "endOffset", "text"?, …}`` checked against the paragraphs · bbox ``"rectanglelabels"``
    ``{"x", "y", "width", "height", "rotation"?, "rectanglelabels"}`` in percent of the image · polygon
    ``"polygonlabels"`` ``{"points": [[x, y], …] (≥ 3), "closed"?, "polygonlabels"}`` · keypoints
    ``"keypointlabels"`` ``{"x", "y", "width"?, "keypointlabels"}`` · textarea ``{"text": ["…"]}`` · rating
    ``{"rating": n}`` · relation ``{"type": "relation", "from_id", "to_id", "direction"?, "labels"?}``.
    Region items carry ``id`` (optional unless a relation or a per-region item points at it; unique in the
    result), ``from_name``, ``to_name``, ``type`` and ``value``; ``origin``, ``score``, ``original_width``,
    ``original_height``, ``image_rotation``, ``readonly``, ``hidden``, ``parentID`` and ``meta`` are
    checked when present, other keys are kept and ignored (newer Label Studio exports add some).
    A choices, taxonomy, textarea or rating control has at most one item per result; with ``per_region``,
    one per region instead: the item carries the ``id`` of a region drawn in the same result on the same
    object, and that region's value fields (x, y, width… or start, end…) next to its own choices, text
    or rating. A required per-region control needs an item for every region of its object that it is
    shown for. Relations are checked against the union of the labels of every relation control of the spec.

Labels in use
    ``spec_labels`` and ``result_labels`` speak of *selectable* labels: for hierarchical choices, leaf
    values (every node without ``leafs_only``; a path is reported by its last step); relation labels are
    counted under the first relation control declaring them. A textarea or rating control in use appears
    with an empty set.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from django.utils.text import slugify

DATA_TYPES = ("text", "html", "paragraphs", "image", "audio", "url")
CONTROL_TYPES = ("choices", "spans", "html_spans", "paragraph_spans", "bbox", "polygon", "keypoints", "textarea",
                 "rating", "relation")
# Controls that draw labelled regions.
REGION_TYPES = ("spans", "html_spans", "paragraph_spans", "bbox", "polygon", "keypoints")
WHOLE_TASK_TYPES = ("choices", "textarea", "rating")  # one item per result, or one per region with per_region

# The data types each control may label. A url field holds a link to the content, so only structure is checked.
TARGET_TYPES = {
    "choices": DATA_TYPES,
    "textarea": DATA_TYPES,
    "rating": DATA_TYPES,
    "spans": ("text", "html", "paragraphs"),
    "html_spans": ("html", "url"),
    "paragraph_spans": ("paragraphs", "url"),
    "bbox": ("image",),
    "polygon": ("image",),
    "keypoints": ("image",),
}

# Result item `type` per control type (choices with `taxonomy` answer "taxonomy").
RESULT_TYPES = {
    "choices": "choices",
    "spans": "labels",
    "html_spans": "hypertextlabels",
    "paragraph_spans": "paragraphlabels",
    "bbox": "rectanglelabels",
    "polygon": "polygonlabels",
    "keypoints": "keypointlabels",
    "textarea": "textarea",
    "rating": "rating",
    "relation": "relation",
}

# Where a result item of each type keeps its labels.
LABEL_KEYS = {
    "choices": "choices",
    "taxonomy": "taxonomy",
    "labels": "labels",
    "hypertextlabels": "hypertextlabels",
    "paragraphlabels": "paragraphlabels",
    "rectanglelabels": "rectanglelabels",
    "polygonlabels": "polygonlabels",
    "keypointlabels": "keypointlabels",
}
REGION_RESULT_TYPES = frozenset(RESULT_TYPES[kind] for kind in REGION_TYPES)

_COMMON_KEYS = ("type", "to", "required", "visible_when")
_REGION_KEYS = _COMMON_KEYS + ("labels", "multiple")
CONTROL_KEYS = {
    "choices": frozenset(_COMMON_KEYS + ("labels", "multiple", "taxonomy", "leafs_only", "per_region")),
    "spans": frozenset(_REGION_KEYS),
    "html_spans": frozenset(_REGION_KEYS),
    "paragraph_spans": frozenset(_REGION_KEYS),
    "bbox": frozenset(_REGION_KEYS),
    "polygon": frozenset(_REGION_KEYS),
    "keypoints": frozenset(_REGION_KEYS),
    "textarea": frozenset(_COMMON_KEYS + ("max_length", "per_region")),
    "rating": frozenset(_COMMON_KEYS + ("max", "per_region")),
    "relation": frozenset(("type", "required", "labels")),
}
DATA_KEYS = frozenset(("type", "field", "text_key"))
VISIBILITY = ("choice-selected", "choice-unselected", "region-selected", "no-region-selected")
CONDITION_KEYS = frozenset(("when", "control", "values"))
LABEL_ENTRY_KEYS = frozenset(("value", "id", "hotkey", "color", "children"))

DEFAULT_RATING_MAX = 5
MAX_RATING_MAX = 100
MAX_TEXTAREA_LENGTH = 1_000_000
MAX_FIELDS = 200
MAX_CONTROLS = 200
MAX_LABELS = 20_000  # per control, all taxonomy levels together
MAX_TAXONOMY_DEPTH = 20
MAX_VALUE_LENGTH = 500
MAX_CONDITIONS = 20  # visible_when entries per control
MAX_XPATH_LENGTH = 10_000
EPSILON = 1e-6  # slack for coordinates computed in floating point (100.00000000000001)
ROTATED_SLACK = 1e-3  # rotated corners go through sin/cos and pixel sizes: a little more slack
DIRECTIONS = ("right", "left", "bi")

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIGITS = re.compile(r"[0-9]{1,9}")
_LABEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_HOTKEY = re.compile(
    r"(?:(?:ctrl|control|shift|alt|option|meta|cmd|command|mod)\+)*"
    r"(?:\S|f[1-9]|f1[0-2]|enter|space|tab|esc|escape|up|down|left|right|backspace|delete|home|end|pageup|pagedown)",
    re.IGNORECASE,
)
_COLOR = re.compile(r"#[0-9A-Fa-f]{3,8}|[A-Za-z]{3,30}|(?:rgba?|hsla?)\([0-9.,%\s/-]{1,60}\)")
_MISSING = object()


class LabelSchemaError(ValueError):
    """A problem at a JSON path (`$.controls.sentiment.labels[1].value`, `$[2].value.start`)."""

    def __init__(self, path: str, reason: str):
        super().__init__(path, reason)  # both in args, so the error pickles (Celery) and compares
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def as_details(self) -> dict:
        return {"path": self.path, "reason": self.reason}


class SpecError(LabelSchemaError):
    """The spec (or a remap, or a Label Studio config) is invalid."""


class SchemaMismatch(LabelSchemaError):
    """A result (annotation, prediction, gold answer) does not match the spec: 422 `schema_mismatch`."""


# --- messages ----------------------------------------------------------------------------------------


def _key(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENT.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(str(key), ensure_ascii=False)}]"


def _show(value: Any, limit: int = 60) -> str:
    """A short JSON-ish rendering of any value, safe for huge numbers, strings and nesting."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -(10**30) < value < 10**30 else "a very large integer"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, str):
        text = json.dumps(value[: limit + 1], ensure_ascii=False)
        return text if len(value) <= limit else text[:-2] + '…"'
    if isinstance(value, list | tuple):
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _describe(value: Any) -> str:
    """`a string ("x")`, `a boolean (true)`, `an object`… for 'must be …, not …' messages."""
    if value is None:
        return "null"
    if value is True or value is False:
        return f"a boolean ({_show(value)})"
    if isinstance(value, int | float):
        return f"a number ({_show(value)})"
    if isinstance(value, str):
        return f"a string ({_show(value)})"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return _show(value)


def _listing(values, limit: int = 10) -> str:
    values = list(values)
    shown = ", ".join(str(value) for value in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def _is_number(value: Any) -> bool:
    """A finite JSON number: exact int or float types, so True is not 1 (bool subclasses int)."""
    kind = type(value)
    return kind is int or (kind is float and math.isfinite(value))


def _has_control_chars(text: str) -> bool:
    return any(ord(char) < 32 or ord(char) == 127 for char in text)


# --- the spec ----------------------------------------------------------------------------------------


def normalize_spec(spec: Any, *, previous: dict | None = None) -> dict:
    """Validate `spec` and return it normalized (defaults and label ids filled); SpecError at the first
    problem. `previous` (the normalized spec of the version before) keeps the derived ids of labels
    whose value did not change."""
    if not isinstance(spec, dict):
        raise SpecError("$", f"a label spec must be a JSON object with data and controls, not {_describe(spec)}")
    for key in spec:
        if key not in ("data", "controls"):
            raise SpecError(_key("$", key), "unknown key: a spec has only data and controls")
    data = _normalize_data(spec.get("data", _MISSING))
    controls = spec.get("controls", _MISSING)
    if controls is _MISSING:
        raise SpecError("$.controls", "missing: a spec needs at least one control")
    if not isinstance(controls, dict):
        raise SpecError("$.controls", f"must be an object of controls by name, not {_describe(controls)}")
    if not controls:
        raise SpecError("$.controls", "a spec needs at least one control")
    if len(controls) > MAX_CONTROLS:
        raise SpecError("$.controls", f"at most {MAX_CONTROLS} controls")
    previous_ids = _previous_ids(previous)
    normalized = {}
    for name, control in controls.items():
        normalized[name] = _normalize_control(name, control, data, previous_ids.get(name, {}))
    for name, control in normalized.items():  # conditions may name any control, so once all are known
        for position, condition in enumerate(control.get("visible_when", ())):
            _check_condition(condition, f"{_key('$.controls', name)}.visible_when[{position}]", name, normalized)
    return {"data": data, "controls": normalized}


def _check_name(name: Any, path: str, what: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(path, f"invalid {what} name {_show(name)}: use 1–100 letters, digits, _ . : or -, "
                              "starting with a letter, digit or _")


def _normalize_data(data: Any) -> dict:
    if data is _MISSING:
        raise SpecError("$.data", "missing: a spec names the task's data fields, e.g. {\"text\": {\"type\": \"text\"}}")
    if not isinstance(data, dict):
        raise SpecError("$.data", f"must be an object of data fields by name, not {_describe(data)}")
    if not data:
        raise SpecError("$.data", "a spec needs at least one data field")
    if len(data) > MAX_FIELDS:
        raise SpecError("$.data", f"at most {MAX_FIELDS} data fields")
    out = {}
    for name, entry in data.items():
        path = _key("$.data", name)
        _check_name(name, path, "data field")
        if not isinstance(entry, dict):
            raise SpecError(path, f"must be an object like {{\"type\": \"text\"}}, not {_describe(entry)}")
        for key in entry:
            if key not in DATA_KEYS:
                raise SpecError(_key(path, key), "unknown key: a data field has type and, optionally, field")
        kind = entry.get("type", _MISSING)
        if kind is _MISSING:
            raise SpecError(f"{path}.type", f"missing: one of {', '.join(DATA_TYPES)}")
        if kind not in DATA_TYPES or not isinstance(kind, str):
            raise SpecError(f"{path}.type", f"{_show(kind)} is not a data type; use one of {', '.join(DATA_TYPES)}")
        field = entry.get("field", name)
        if not isinstance(field, str) or not field or len(field) > 200 or _has_control_chars(field):
            raise SpecError(f"{path}.field",
                            f"must be the key of the task data (1–200 characters), not {_describe(field)}")
        out[name] = {"type": kind, "field": field}
        if kind == "paragraphs":
            text_key = entry.get("text_key", "text")
            if not isinstance(text_key, str) or not text_key or len(text_key) > 200 or _has_control_chars(text_key):
                raise SpecError(f"{path}.text_key", "must be the key of each paragraph's text (1–200 characters), "
                                                    f"not {_describe(text_key)}")
            out[name]["text_key"] = text_key
        elif "text_key" in entry:
            raise SpecError(f"{path}.text_key", f"only paragraphs fields have a text_key, not {kind} fields")
    return out


def _bool_option(control: dict, key: str, path: str, default: bool = False) -> bool:
    value = control.get(key, default)
    if value is not True and value is not False:
        raise SpecError(_key(path, key), f"must be true or false, not {_describe(value)}")
    return value


def _int_option(control: dict, key: str, path: str, default, low: int, high: int, allow_null: bool = False):
    value = control.get(key, default)
    if value is None and allow_null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(_key(path, key), f"must be an integer from {low} to {high}"
                                         f"{' or null' if allow_null else ''}, not {_describe(value)}")
    return value


def _normalize_control(name: Any, control: Any, data: dict, previous_ids: dict) -> dict:
    path = _key("$.controls", name)
    _check_name(name, path, "control")
    if not isinstance(control, dict):
        raise SpecError(path, f"must be an object like {{\"type\": \"choices\", …}}, not {_describe(control)}")
    kind = control.get("type", _MISSING)
    if kind is _MISSING:
        raise SpecError(f"{path}.type", f"missing: one of {', '.join(CONTROL_TYPES)}")
    if not isinstance(kind, str) or kind not in CONTROL_TYPES:
        raise SpecError(f"{path}.type", f"{_show(kind)} is not a control type; use one of {', '.join(CONTROL_TYPES)}")
    allowed = CONTROL_KEYS[kind]
    for key in control:
        if key not in allowed:
            raise SpecError(_key(path, key),
                            f"unknown key for a {kind} control (allowed: {', '.join(sorted(allowed))})")
    out: dict[str, Any] = {"type": kind}
    if kind != "relation":
        to = control.get("to", _MISSING)
        if to is _MISSING:
            raise SpecError(f"{path}.to", f"missing: the data field this control labels ({_listing(data)})")
        if not isinstance(to, str) or to not in data:
            raise SpecError(f"{path}.to", f"{_show(to)} is not a data field of this spec ({_listing(data)})")
        if data[to]["type"] not in TARGET_TYPES[kind]:
            first, *others = TARGET_TYPES[kind]
            also = f" (or {' or '.join(others)})" if others and len(others) < 3 else ""
            raise SpecError(f"{path}.to", f"a {kind} control labels {first} fields{also}, "
                                          f"but {to!r} is {data[to]['type']}")
        out["to"] = to
    out["required"] = _bool_option(control, "required", path)
    if kind == "choices" or kind in REGION_TYPES:
        out["multiple"] = _bool_option(control, "multiple", path)
    if kind == "textarea":
        out["max_length"] = _int_option(control, "max_length", path, None, 1, MAX_TEXTAREA_LENGTH, allow_null=True)
    elif kind == "rating":
        out["max"] = _int_option(control, "max", path, DEFAULT_RATING_MAX, 1, MAX_RATING_MAX)
    else:
        raw = control.get("labels", _MISSING)
        if raw is _MISSING and kind == "relation":
            raw = []
        labels = _normalize_labels(raw, f"{path}.labels", kind, previous_ids)
        if kind == "choices":
            # Labels with children make hierarchical choices. taxonomy (default: hierarchical) says how results
            # hold them: {"taxonomy": paths} (Label Studio's <Taxonomy>) or {"choices": paths} (its nested
            # <Choices allowNested="true">). leafs_only keeps inner nodes from being picked themselves.
            hierarchical = any("children" in label for label in labels)
            out["taxonomy"] = _bool_option(control, "taxonomy", path, default=hierarchical)
            leafs_only = _bool_option(control, "leafs_only", path, default=True)
            if hierarchical:
                out["leafs_only"] = leafs_only
        out["labels"] = labels
    if kind in WHOLE_TASK_TYPES and _bool_option(control, "per_region", path):
        out["per_region"] = True
    conditions = _normalize_conditions(control.get("visible_when", _MISSING), f"{path}.visible_when")
    if conditions:
        out["visible_when"] = conditions
    return out


def _normalize_conditions(raw: Any, path: str) -> list:
    """`visible_when`: conditions that must all hold for the control to be shown (Label Studio's visibleWhen,
    whenTagName, whenChoiceValue and whenLabelValue). Names are checked once every control is known."""
    if raw is _MISSING:
        return []
    example = '[{"when": "choice-selected", "control": "sentiment", "values": ["positive"]}]'
    if not isinstance(raw, list):
        raise SpecError(path, f"must be an array of conditions such as {example}, not {_describe(raw)}")
    if len(raw) > MAX_CONDITIONS:
        raise SpecError(path, f"at most {MAX_CONDITIONS} conditions")
    out = []
    for position, condition in enumerate(raw):
        at = f"{path}[{position}]"
        if not isinstance(condition, dict):
            raise SpecError(at, f"must be a condition such as {example[1:-1]}, not {_describe(condition)}")
        for key in condition:
            if key not in CONDITION_KEYS:
                raise SpecError(_key(at, key), "unknown key for a condition (allowed: when, control, values)")
        when = condition.get("when", _MISSING)
        if when is _MISSING:
            raise SpecError(f"{at}.when", f"missing: one of {', '.join(VISIBILITY)}")
        if not isinstance(when, str) or when not in VISIBILITY:
            raise SpecError(f"{at}.when", f"{_show(when)} is not a condition; use one of {', '.join(VISIBILITY)}")
        entry: dict[str, Any] = {"when": when}
        for key in ("control", "values"):
            if key in condition and when == "no-region-selected":
                raise SpecError(f"{at}.{key}", "no-region-selected takes no control or values")
        if "control" in condition:
            name = condition["control"]
            if not isinstance(name, str) or not name:
                raise SpecError(f"{at}.control", f"must be a control name, not {_describe(name)}")
            entry["control"] = name
        if "values" in condition:
            values = condition["values"]
            if not isinstance(values, list) or not values or len(values) > MAX_LABELS:
                raise SpecError(f"{at}.values", f"must be a non-empty array of label values, not {_describe(values)}")
            for index, value in enumerate(values):
                if not isinstance(value, str) or not value:
                    raise SpecError(f"{at}.values[{index}]", f"must be a label value, not {_describe(value)}")
            entry["values"] = list(values)
        out.append(entry)
    return out


def _node_values(control: dict) -> set[str]:
    """Every label value of a normalized control, at any level."""
    values: set[str] = set()
    stack = list(control.get("labels", ()))
    while stack:
        label = stack.pop()
        values.add(label["value"])
        stack.extend(label.get("children", ()))
    return values


def _fits(control: dict, on_choices: bool) -> bool:
    return control["type"] == "choices" if on_choices else control["type"] in REGION_TYPES


def _check_condition(condition: dict, at: str, name: str, controls: dict) -> None:
    when = condition["when"]
    if when == "no-region-selected":
        return
    on_choices = when != "region-selected"
    wanted = "a choices control" if on_choices else "a region control (" + ", ".join(REGION_TYPES) + ")"
    other_name = condition.get("control")
    if other_name is not None:
        if other_name == name:
            raise SpecError(f"{at}.control", "a control's visibility cannot depend on the control itself")
        other = controls.get(other_name)
        if other is None:
            raise SpecError(f"{at}.control", f"{_show(other_name)} is not a control of this spec "
                                             f"({_listing(controls)})")
        if not _fits(other, on_choices):
            raise SpecError(f"{at}.control", f"{other_name!r} is a {other['type']} control; a {when} condition "
                                             f"names {wanted}")
        candidates = [other]
    else:
        candidates = [control for control in controls.values() if _fits(control, on_choices)]
    known: set[str] = set()
    for candidate in candidates:
        known |= _node_values(candidate)
    for index, value in enumerate(condition.get("values", ())):
        if value not in known:
            owner = repr(other_name) if other_name is not None else f"any {wanted[2:]}"
            raise SpecError(f"{at}.values[{index}]", f"{_show(value)} is not a label of {owner}")


def _normalize_labels(raw: Any, path: str, kind: str, previous_ids: dict) -> list:
    if raw is _MISSING:
        raise SpecError(path, "missing: a list of labels such as [{\"value\": \"positive\"}]")
    if not isinstance(raw, list):
        raise SpecError(path, f"must be an array of labels, not {_describe(raw)}")
    if not raw and kind != "relation":
        raise SpecError(path, "a control needs at least one label")
    values: dict[str, str] = {}  # value → path, unique across the whole tree
    hotkeys: dict[str, str] = {}  # lowercased hotkey → value
    ids: dict[str, str] = {}  # given id → path
    count = 0
    pending: list[dict] = []  # labels still needing an id, in document order

    def walk(entries: list, entries_path: str, depth: int) -> list:
        nonlocal count
        if depth > MAX_TAXONOMY_DEPTH:
            raise SpecError(entries_path, f"a taxonomy is at most {MAX_TAXONOMY_DEPTH} levels deep")
        out = []
        for index, entry in enumerate(entries):
            count += 1
            if count > MAX_LABELS:
                raise SpecError(path, f"a control has at most {MAX_LABELS} labels")
            at = f"{entries_path}[{index}]"
            if isinstance(entry, str):
                raise SpecError(at, f"must be an object like {{\"value\": {_show(entry)}}}, not a bare string")
            if not isinstance(entry, dict):
                raise SpecError(at, f"must be an object like {{\"value\": \"positive\"}}, not {_describe(entry)}")
            for key in entry:
                if key not in LABEL_ENTRY_KEYS:
                    raise SpecError(_key(at, key), "unknown key for a label (allowed: value, id, hotkey, color"
                                                   f"{', children' if kind == 'choices' else ''})")
            value = entry.get("value", _MISSING)
            if value is _MISSING:
                raise SpecError(f"{at}.value", "missing: the label's value, as results store it")
            if not isinstance(value, str) or not value.strip():
                raise SpecError(f"{at}.value", f"must be a non-empty string, not {_describe(value)}")
            if len(value) > MAX_VALUE_LENGTH or _has_control_chars(value):
                raise SpecError(f"{at}.value", f"must be at most {MAX_VALUE_LENGTH} characters, without "
                                               "line breaks or control characters")
            if value in values:
                raise SpecError(f"{at}.value", f"duplicate label value {_show(value)} (also at {values[value]}); "
                                               "label values are unique within a control, across all levels")
            values[value] = f"{at}.value"
            label: dict[str, Any] = {"id": None, "value": value}
            if "id" in entry:
                given = entry["id"]
                if not isinstance(given, str) or not _LABEL_ID.fullmatch(given):
                    raise SpecError(f"{at}.id", f"invalid id {_show(given)}: use 1–100 letters, digits, _ or -, "
                                                "starting with a letter or digit")
                if given in ids:
                    raise SpecError(f"{at}.id", f"duplicate label id {given!r} (also at {ids[given]})")
                ids[given] = f"{at}.id"
                label["id"] = given
            else:
                pending.append(label)
            if "hotkey" in entry:
                hotkey = entry["hotkey"]
                if not isinstance(hotkey, str) or not _HOTKEY.fullmatch(hotkey):
                    raise SpecError(f"{at}.hotkey", f"invalid hotkey {_show(hotkey)}: one key such as \"1\" or "
                                                    "\"p\", optionally with modifiers such as \"ctrl+1\"")
                folded = hotkey.lower()
                if folded in hotkeys:
                    raise SpecError(f"{at}.hotkey", f"hotkey {hotkey!r} is already used by {hotkeys[folded]!r} "
                                                    "in this control")
                hotkeys[folded] = value
                label["hotkey"] = hotkey
            if "color" in entry:
                color = entry["color"]
                if not isinstance(color, str) or not _COLOR.fullmatch(color):
                    raise SpecError(f"{at}.color", f"invalid color {_show(color)}: use #rrggbb, a color name, "
                                                   "rgb(…) or hsl(…)")
                label["color"] = color
            if "children" in entry:
                children = entry["children"]
                if kind != "choices":
                    raise SpecError(f"{at}.children", f"only choices labels have children, not {kind} labels")
                if not isinstance(children, list) or not children:
                    raise SpecError(f"{at}.children", "must be a non-empty array of labels (leave it out for a leaf)")
                label["children"] = walk(children, f"{at}.children", depth + 1)
            out.append(label)
        return out

    labels = walk(raw, path, 1)
    taken = set(ids)
    for label in pending:  # ids of the previous version first, so a new label cannot take one
        kept = previous_ids.get(label["value"])
        if isinstance(kept, str) and _LABEL_ID.fullmatch(kept) and kept not in taken:
            label["id"] = kept
            taken.add(kept)
    for label in pending:
        if label["id"] is None:
            label["id"] = _derive_id(label["value"], taken)
            taken.add(label["id"])
    return labels


def _derive_id(value: str, taken: set) -> str:
    base = slugify(value)[:80].strip("-_") or "label"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _previous_ids(previous: Any) -> dict[str, dict[str, str]]:
    """{control: {value: id}} from a previous normalized spec; anything unexpected is ignored."""
    found: dict[str, dict[str, str]] = {}
    controls = previous.get("controls") if isinstance(previous, dict) else None
    if not isinstance(controls, dict):
        return found
    for name, control in controls.items():
        ids: dict[str, str] = {}
        stack = list(control.get("labels") or []) if isinstance(control, dict) else []
        while stack:
            label = stack.pop()
            if not isinstance(label, dict):
                continue
            if isinstance(label.get("value"), str) and isinstance(label.get("id"), str):
                ids[label["value"]] = label["id"]
            if isinstance(label.get("children"), list):
                stack.extend(label["children"])
        found[name] = ids
    return found


def validate_data(spec: dict, data: Any) -> None:
    """A task's data holds every field of the spec: text and html as a string (text also as an array, for
    specs made before paragraphs had their own type), paragraphs as an array of objects, image/audio/url as
    a non-empty string (a URL or a storage key). SchemaMismatch with a path into the data (`$.image`)."""
    if not isinstance(data, dict):
        raise SchemaMismatch("$", f"task data must be a JSON object, not {_describe(data)}")
    for entry in spec["data"].values():
        field, kind = entry["field"], entry["type"]
        value = data.get(field)
        if value is None:
            raise SchemaMismatch(_key("$", field), f"missing: the label schema needs this {kind} field")
        if kind == "text":
            if not isinstance(value, str | list):
                raise SchemaMismatch(_key("$", field), f"must be a string of text, not {_describe(value)}")
        elif kind == "html":
            if not isinstance(value, str):
                raise SchemaMismatch(_key("$", field), f"must be a string of HTML, not {_describe(value)}")
        elif kind == "paragraphs":
            if not isinstance(value, list):
                raise SchemaMismatch(_key("$", field), "must be an array of paragraphs such as "
                                                       f"[{{\"author\": \"…\", \"text\": \"…\"}}], "
                                                       f"not {_describe(value)}")
            for position, paragraph in enumerate(value):
                if not isinstance(paragraph, dict):
                    raise SchemaMismatch(f"{_key('$', field)}[{position}]",
                                         f"must be an object (a paragraph), not {_describe(paragraph)}")
        elif not isinstance(value, str) or not value.strip():
            raise SchemaMismatch(_key("$", field),
                                 f"must be a non-empty string (a URL or a storage key), not {_describe(value)}")


# --- the compiled form, for the hot path ----------------------------------------------------------------


class CompiledControl:
    __slots__ = ("name", "type", "result_type", "label_key", "to", "field", "target", "text_key", "required",
                 "multiple", "per_region", "visible_when", "labels", "tree", "hierarchical", "leafs_only",
                 "selectable_paths", "path_of", "leaf_path_of", "node_values", "max", "max_length", "check",
                 "one_per_result", "draws_regions")

    def __init__(self, name: str, control: dict, data: dict):
        self.name = name
        self.type = control["type"]
        self.to = control.get("to")
        target = data.get(self.to) if isinstance(self.to, str) else None
        self.field = target["field"] if target else self.to
        self.target = target["type"] if target else None
        self.text_key = target.get("text_key", "text") if target else "text"
        self.required = control.get("required", False)
        self.multiple = control.get("multiple", False)
        self.per_region = control.get("per_region", False)
        self.visible_when = tuple(control.get("visible_when", ()))
        self.max = control.get("max", DEFAULT_RATING_MAX)
        self.max_length = control.get("max_length")
        taxonomy = self.type == "choices" and control.get("taxonomy", False)
        self.result_type = "taxonomy" if taxonomy else RESULT_TYPES[self.type]
        self.label_key = LABEL_KEYS.get(self.result_type)
        self.check = _CHECKS.get(self.result_type)  # the value's check, bound once (spans: by the data type)
        if self.result_type == "labels":
            self.check = _SPAN_CHECKS.get(self.target, _check_text_span)
        self.one_per_result = self.type in WHOLE_TASK_TYPES and not self.per_region
        self.draws_regions = self.result_type in REGION_RESULT_TYPES
        self.tree: dict | None = None
        self.hierarchical = False
        self.leafs_only = control.get("leafs_only", True)
        self.selectable_paths: frozenset = frozenset()
        self.path_of: dict[str, list[str]] = {}
        self.leaf_path_of: dict[str, list[str]] = {}
        labels = control.get("labels", [])
        if self.type == "choices":
            # Every choices control gets its tree (flat choices: all leaves), so paths check the same way.
            self.tree = {}
            stack = [(labels, self.tree, ())]
            while stack:
                entries, into, prefix = stack.pop()
                for label in entries:
                    value = label["value"]
                    path = prefix + (value,)
                    self.path_of[value] = list(path)
                    if label.get("children"):
                        self.hierarchical = True
                        into[value] = {}
                        stack.append((label["children"], into[value], path))
                    else:
                        into[value] = None
                        self.leaf_path_of[value] = list(path)
            selectable = self.leaf_path_of if self.leafs_only else self.path_of
            self.selectable_paths = frozenset(tuple(path) for path in selectable.values())
            self.labels = frozenset(selectable)
            self.node_values = frozenset(self.path_of)
        else:
            self.labels = frozenset(label["value"] for label in labels)
            self.node_values = self.labels


class CompiledSpec:
    """Label sets and taxonomy paths of a normalized spec, computed once."""

    __slots__ = ("spec", "controls", "required", "relation_controls", "relation_labels")

    def __init__(self, spec: dict):
        self.spec = spec
        data = spec.get("data", {})
        self.controls = {name: CompiledControl(name, control, data) for name, control in spec["controls"].items()}
        self.required = tuple(control for control in self.controls.values() if control.required)
        self.relation_controls = tuple(c for c in self.controls.values() if c.type == "relation")
        self.relation_labels = frozenset().union(*(c.labels for c in self.relation_controls))

    def relation_owner(self, label: str) -> str | None:
        """The relation control a relation label is counted under."""
        for control in self.relation_controls:
            if label in control.labels:
                return control.name
        return self.relation_controls[0].name if self.relation_controls else None


_COMPILED: dict[int, CompiledSpec] = {}
_COMPILED_MAX = 256


def compile_spec(spec: dict | CompiledSpec) -> CompiledSpec:
    """The compiled form of a normalized spec, cached by identity: treat a normalized spec as immutable
    (a new version is a new dict). Hold on to the result to skip even the cache lookup."""
    if isinstance(spec, CompiledSpec):
        return spec
    cached = _COMPILED.get(id(spec))
    if cached is not None and cached.spec is spec:  # the cache holds `spec`, so its id cannot be reused
        return cached
    compiled = CompiledSpec(spec)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[id(spec)] = compiled
    return compiled


# --- results -----------------------------------------------------------------------------------------


def _fail(path: str, reason: str):
    raise SchemaMismatch(path, reason)


def _number(value: Any, path: str) -> int | float:
    if value is _MISSING:
        _fail(path, "missing: a number")
    if not _is_number(value):
        _fail(path, f"must be a finite number, not {_describe(value)}")
    return value


def _percent(value: Any, path: str) -> float:
    value = _number(value, path)
    if not -EPSILON <= value <= 100 + EPSILON:
        _fail(path, f"must be between 0 and 100 (percent of the image), not {_show(value)}")
    return float(value)


def _size(value: Any, path: str, limit: float = 100) -> float:
    value = _number(value, path)
    if value <= 0:
        _fail(path, f"must be greater than 0, not {_show(value)}")
    if value > limit + EPSILON:
        _fail(path, f"must be at most {limit:g} (percent of the image), not {_show(value)}")
    return float(value)


def _integer(value: Any, path: str, what: str) -> int:
    if value is _MISSING:
        _fail(path, f"missing: {what}")
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(path, f"must be an integer ({what}), not {_describe(value)}")
    return value


def _not_a_label(label: Any, control: CompiledControl) -> str:
    if not isinstance(label, str):
        return f"must be a label value (a string), not {_describe(label)}"
    return f"{_show(label)} is not a label of control {control.name!r} (labels: {_listing(sorted(control.labels))})"


def _region_labels(value: dict, index: int, control: CompiledControl, key: str) -> None:
    labels = value.get(key, _MISSING)
    if labels is _MISSING:
        _fail(f"$[{index}].value.{key}", "missing: the region's labels")
    if not isinstance(labels, list):
        _fail(f"$[{index}].value.{key}", f"must be an array of labels, not {_describe(labels)}")
    if not labels:
        _fail(f"$[{index}].value.{key}", "must name at least one label")
    if len(labels) > 1 and not control.multiple:
        noun = "choice" if control.type == "choices" else "label per region"
        _fail(f"$[{index}].value.{key}", f"control {control.name!r} allows one {noun}, got {len(labels)}")
    for position, label in enumerate(labels):
        if not isinstance(label, str) or label not in control.labels:
            _fail(f"$[{index}].value.{key}[{position}]", _not_a_label(label, control))
    if len(labels) > 1 and len(set(labels)) != len(labels):
        _fail(f"$[{index}].value.{key}", "names the same label twice")


def _check_choices(value: dict, index: int, control: CompiledControl, data) -> None:
    entries = value.get("choices", _MISSING)
    if not control.hierarchical and not (isinstance(entries, list) and any(isinstance(e, list) for e in entries)):
        _region_labels(value, index, control, "choices")  # flat labels: the common case
        return
    _check_paths(entries, f"$[{index}].value.choices", control, strings=True)


def _check_taxonomy(value: dict, index: int, control: CompiledControl, data) -> None:
    _check_paths(value.get("taxonomy", _MISSING), f"$[{index}].value.taxonomy", control, strings=False)


def _check_paths(entries: Any, at: str, control: CompiledControl, *, strings: bool) -> None:
    """Choices as paths from the root (`["Animal", "Cat"]`). With `strings`, a bare label is the one-step
    path to a top-level label: what flat choices, and Label Studio's choices without allowNested, store."""
    if entries is _MISSING:
        _fail(at, "missing: the chosen paths, e.g. [[\"Animal\", \"Cat\"]]")
    if not isinstance(entries, list):
        _fail(at, f"must be an array of paths such as [[\"Animal\", \"Cat\"]], not {_describe(entries)}")
    if not entries:
        _fail(at, "must name at least one path")
    chosen: list[tuple] = []
    for position, entry in enumerate(entries):
        here = f"{at}[{position}]"
        if isinstance(entry, str) and strings:
            if (entry,) not in control.selectable_paths:
                _fail(here, _path_problem([entry], control)[1])
            chosen.append((entry,))
        elif isinstance(entry, list) and entry:
            if not (all(isinstance(step, str) for step in entry) and tuple(entry) in control.selectable_paths):
                step, reason = _path_problem(entry, control)
                _fail(here if step is None else f"{here}[{step}]", reason)
            chosen.append(tuple(entry))
        else:
            what = "a label or a path" if strings else "a path"
            _fail(here, f"must be {what} from the root, such as [\"Animal\", \"Cat\"], not {_describe(entry)}")
    distinct = set(chosen)
    if len(distinct) != len(chosen):
        _fail(at, "names the same path twice")
    if len(chosen) > 1 and not control.multiple:
        # Label Studio's nested choices store a picked inner node together with the children it selects.
        picks = sum(1 for path in chosen if not any(path[:depth] in distinct for depth in range(1, len(path))))
        if picks > 1:
            _fail(at, f"control {control.name!r} allows one choice, got {picks}")


def _path_problem(path: list, control: CompiledControl) -> tuple[int | None, str]:
    """Why `path` is not a selectable path of `control`: the step at fault (None: the path as a whole)."""
    kind = "taxonomy" if control.result_type == "taxonomy" else "choices"
    node: dict | None = control.tree
    parent = None
    for depth, step in enumerate(path):
        if not isinstance(step, str):
            return depth, f"must be a label value (a string), not {_describe(step)}"
        if node is None:
            return depth, f"{_show(parent)} is a leaf of {kind} {control.name!r}: the path ends there"
        if step not in node:
            where = f"a child of {_show(parent)}" if parent is not None else "a top-level label"
            reason = f"{_show(step)} is not {where} in {kind} {control.name!r} (expected one of: {_listing(node)})"
            if step in control.path_of:
                reason += f"; its full path is {json.dumps(control.path_of[step], ensure_ascii=False)}"
            return depth, reason
        parent, node = step, node[step]
    return None, f"the path ends at {_show(parent)}, which is not a leaf: choose one of {_listing(node or ())}"


@lru_cache(maxsize=4)
def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _utf16_length(text: str) -> int:
    return len(text) if text.isascii() else len(_utf16(text)) // 2


def _utf16_slice(text: str, start: int, end: int) -> str | None:
    """text[start:end] counted in UTF-16 code units (JavaScript string indices); None when those offsets
    fall outside the text or inside a character, or when they count the same as code points."""
    if text.isascii():
        return None
    encoded = _utf16(text)
    if 2 * end > len(encoded) or len(encoded) == 2 * len(text):
        return None
    try:
        return encoded[2 * start:2 * end].decode("utf-16-le")
    except UnicodeDecodeError:  # half of a surrogate pair
        return None


def _quote_matches(text: str, start: int, end: int, quoted: str) -> bool:
    """The quoted text is at start–end, counted in code points or, failing that, in UTF-16 code units."""
    return (end <= len(text) and text[start:end] == quoted) or _utf16_slice(text, start, end) == quoted


def _check_text_span(value: dict, index: int, control: CompiledControl, data) -> None:
    start = _integer(value.get("start", _MISSING), f"$[{index}].value.start", "the offset where the span starts")
    end = _integer(value.get("end", _MISSING), f"$[{index}].value.end", "the offset after the span's last character")
    if start < 0:
        _fail(f"$[{index}].value.start", f"must be 0 or more, not {_show(start)}")
    if end <= start:
        _fail(f"$[{index}].value.end", f"must be greater than start ({_show(start)}), not {_show(end)}")
    quoted = value.get("text", _MISSING)
    if quoted is not _MISSING and not isinstance(quoted, str):
        _fail(f"$[{index}].value.text", f"must be the text of the span, not {_describe(quoted)}")
    text = data.get(control.field) if data is not None else None
    if isinstance(text, str):
        if quoted is not _MISSING and (text[start:end] == quoted and end <= len(text)
                                       or _utf16_slice(text, start, end) == quoted):
            pass
        elif end > len(text):
            _fail(f"$[{index}].value.end", f"{_show(end)} is past the end of the text of {control.field!r} "
                                           f"({len(text)} characters)")
        elif quoted is not _MISSING:
            _fail(f"$[{index}].value.text", f"{_show(quoted)} is not the text at {start}–{end} of "
                                            f"{control.field!r}, which is {_show(text[start:end])}")
    _region_labels(value, index, control, control.label_key)


def _offset(value: dict, at: str, key: str, what: str) -> int:
    offset = _integer(value.get(key, _MISSING), f"{at}.{key}", what)
    if offset < 0:
        _fail(f"{at}.{key}", f"must be 0 or more, not {_show(offset)}")
    return offset


def _check_html_span(value: dict, index: int, control: CompiledControl, data) -> None:
    """A region of a <HyperText>: XPaths of the start and end text nodes and offsets inside them, checked for
    their form only (the HTML is not parsed)."""
    at = f"$[{index}].value"
    for key, what in (("start", "starts"), ("end", "ends")):
        xpath = value.get(key, _MISSING)
        shape = f"the XPath of the node where the region {what}, such as \"/p[1]/text()[1]\""
        if xpath is _MISSING:
            _fail(f"{at}.{key}", f"missing: {shape}")
        if not isinstance(xpath, str) or not xpath.startswith("/") or len(xpath) > MAX_XPATH_LENGTH \
                or _has_control_chars(xpath):
            _fail(f"{at}.{key}", f"must be {shape}, not {_describe(xpath)}")
    start_offset = _offset(value, at, "startOffset", "the offset in the start node")
    end_offset = _offset(value, at, "endOffset", "the offset in the end node")
    if value["start"] == value["end"] and end_offset <= start_offset:
        _fail(f"{at}.endOffset", f"must be greater than startOffset ({_show(start_offset)}) within one node, "
                                 f"not {_show(end_offset)}")
    offsets = value.get("globalOffsets")
    if offsets is not None:
        if not isinstance(offsets, dict):
            _fail(f"{at}.globalOffsets", f"must be an object {{\"start\", \"end\"}}, not {_describe(offsets)}")
        start = _offset(offsets, f"{at}.globalOffsets", "start", "the offset in the page's text")
        end = _offset(offsets, f"{at}.globalOffsets", "end", "the offset in the page's text")
        if end <= start:
            _fail(f"{at}.globalOffsets.end", f"must be greater than start ({_show(start)}), not {_show(end)}")
    if "text" in value and not isinstance(value["text"], str):
        _fail(f"{at}.text", f"must be the text of the region, not {_describe(value['text'])}")
    _region_labels(value, index, control, control.label_key)


def _paragraph_index(value: Any, path: str, what: str) -> int:
    if value is _MISSING:
        _fail(path, f"missing: the index of {what}")
    if type(value) is int:
        index = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        index = int(value)  # Label Studio writes "0"
    else:
        _fail(path, f"must be the index of {what} (an integer, or its digits in a string), not {_describe(value)}")
    if index < 0:
        _fail(path, f"must be 0 or more, not {_show(index)}")
    return index


def _check_paragraph_span(value: dict, index: int, control: CompiledControl, data) -> None:
    """A region of <Paragraphs>: start and end paragraph indices and offsets inside those paragraphs."""
    at = f"$[{index}].value"
    start = _paragraph_index(value.get("start", _MISSING), f"{at}.start", "the paragraph where the region starts")
    end = _paragraph_index(value.get("end", _MISSING), f"{at}.end", "the paragraph where the region ends")
    start_offset = _offset(value, at, "startOffset", "the offset in the start paragraph")
    end_offset = _offset(value, at, "endOffset", "the offset in the end paragraph")
    if end < start:
        _fail(f"{at}.end", f"must be the start paragraph ({_show(start)}) or a later one, not {_show(end)}")
    if end == start and end_offset <= start_offset:
        _fail(f"{at}.endOffset", f"must be greater than startOffset ({_show(start_offset)}) within one paragraph, "
                                 f"not {_show(end_offset)}")
    quoted = value.get("text", _MISSING)
    if quoted is not _MISSING and not isinstance(quoted, str):
        _fail(f"{at}.text", f"must be the text of the region, not {_describe(quoted)}")
    paragraphs = data.get(control.field) if data is not None else None
    if isinstance(paragraphs, list):
        if end >= len(paragraphs):
            _fail(f"{at}.end", f"{_show(end)} is past the last paragraph of {control.field!r} "
                               f"({len(paragraphs)} paragraph{'s' if len(paragraphs) != 1 else ''})")
        texts = [paragraph.get(control.text_key) if isinstance(paragraph, dict) else None
                 for paragraph in (paragraphs[start], paragraphs[end])]
        for text, key, offset, number in zip(texts, ("startOffset", "endOffset"), (start_offset, end_offset),
                                             (start, end), strict=True):
            # Offsets in a paragraph may count UTF-16 code units, so the longer count is the limit.
            if isinstance(text, str) and offset > _utf16_length(text):
                _fail(f"{at}.{key}", f"{_show(offset)} is past the end of paragraph {number} of {control.field!r} "
                                     f"({len(text)} characters)")
        text = texts[0]
        if start == end and isinstance(text, str) and isinstance(quoted, str) \
                and not _quote_matches(text, start_offset, end_offset, quoted):
            _fail(f"{at}.text", f"{_show(quoted)} is not the text at {start_offset}–{end_offset} of paragraph "
                                f"{start} of {control.field!r}, which is {_show(text[start_offset:end_offset])}")
    _region_labels(value, index, control, control.label_key)


def _check_bbox(value: dict, index: int, control: CompiledControl, data, item: dict) -> None:
    at = f"$[{index}].value"
    x = _percent(value.get("x", _MISSING), f"{at}.x")
    y = _percent(value.get("y", _MISSING), f"{at}.y")
    rotation = value.get("rotation", 0)
    if not _is_number(rotation) or not -360 <= rotation <= 360:
        _fail(f"{at}.rotation", f"must be an angle in degrees from -360 to 360, not {_describe(rotation)}")
    if rotation % 360 == 0:
        width = _size(value.get("width", _MISSING), f"{at}.width")
        height = _size(value.get("height", _MISSING), f"{at}.height")
        if x + width > 100 + EPSILON:
            _fail(f"{at}.width", f"x + width = {x + width:.6g} goes past the right edge of the image (100)")
        if y + height > 100 + EPSILON:
            _fail(f"{at}.height", f"y + height = {y + height:.6g} goes past the bottom edge of the image (100)")
    else:
        # Rotated about (x, y); percent of width and of height differ in scale, so the corners need the
        # image's pixel size, which Label Studio sends along.
        width = _size(value.get("width", _MISSING), f"{at}.width", limit=10_000)
        height = _size(value.get("height", _MISSING), f"{at}.height", limit=10_000)
        pixels_w, pixels_h = item.get("original_width"), item.get("original_height")
        if _is_number(pixels_w) and _is_number(pixels_h) and pixels_w > 0 and pixels_h > 0:
            angle = math.radians(rotation)
            cos, sin = math.cos(angle), math.sin(angle)
            w, h = width * pixels_w / 100, height * pixels_h / 100
            for dx, dy in ((w, 0), (0, h), (w, h)):
                cx = x + (dx * cos - dy * sin) * 100 / pixels_w
                cy = y + (dx * sin + dy * cos) * 100 / pixels_h
                if not (-ROTATED_SLACK <= cx <= 100 + ROTATED_SLACK and -ROTATED_SLACK <= cy <= 100 + ROTATED_SLACK):
                    _fail(f"{at}.rotation", f"the box rotated by {_show(rotation)}° has a corner outside the "
                                            f"image, at ({cx:.4g}, {cy:.4g}) percent")
    _region_labels(value, index, control, "rectanglelabels")


def _check_polygon(value: dict, index: int, control: CompiledControl, data) -> None:
    at = f"$[{index}].value.points"
    points = value.get("points", _MISSING)
    if points is _MISSING:
        _fail(at, "missing: the polygon's points, [[x, y], …] in percent of the image")
    if not isinstance(points, list):
        _fail(at, f"must be an array of [x, y] points, not {_describe(points)}")
    if len(points) < 3:
        _fail(at, f"a polygon needs at least 3 points, got {len(points)}")
    low, high = -EPSILON, 100 + EPSILON
    for position, point in enumerate(points):
        # Fast path for the common case (polygons have many points); NaN fails the comparisons.
        if type(point) is list and len(point) == 2:
            px, py = point
            if (type(px) is float or type(px) is int) and (type(py) is float or type(py) is int) \
                    and low <= px <= high and low <= py <= high:
                continue
        if not isinstance(point, list | tuple) or len(point) != 2:
            _fail(f"{at}[{position}]", f"must be an [x, y] pair, not {_describe(point)}")
        _percent(point[0], f"{at}[{position}][0]")
        _percent(point[1], f"{at}[{position}][1]")
    closed = value.get("closed", True)
    if closed is not True and closed is not False:
        _fail(f"$[{index}].value.closed", f"must be true or false, not {_describe(closed)}")
    _region_labels(value, index, control, "polygonlabels")


def _check_keypoints(value: dict, index: int, control: CompiledControl, data) -> None:
    at = f"$[{index}].value"
    _percent(value.get("x", _MISSING), f"{at}.x")
    _percent(value.get("y", _MISSING), f"{at}.y")
    if "width" in value:
        width = _number(value["width"], f"{at}.width")
        if not 0 <= width <= 100:
            _fail(f"{at}.width", f"must be from 0 to 100 (the point's size, percent of the image), not {_show(width)}")
    _region_labels(value, index, control, "keypointlabels")


def _check_textarea(value: dict, index: int, control: CompiledControl, data) -> None:
    at = f"$[{index}].value.text"
    texts = value.get("text", _MISSING)
    if texts is _MISSING:
        _fail(at, "missing: the texts, as an array of strings")
    if not isinstance(texts, list):
        _fail(at, f"must be an array of strings, such as [\"hello\"], not {_describe(texts)}")
    if not texts:
        _fail(at, "must hold at least one text")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            _fail(f"{at}[{position}]", f"must be a string, not {_describe(text)}")
        if control.max_length is not None and len(text) > control.max_length:
            _fail(f"{at}[{position}]", f"is {len(text)} characters long; control {control.name!r} allows "
                                       f"at most {control.max_length}")


def _check_rating(value: dict, index: int, control: CompiledControl, data) -> None:
    at = f"$[{index}].value.rating"
    rating = _integer(value.get("rating", _MISSING), at, f"from 1 to {control.max}")
    if not 1 <= rating <= control.max:
        _fail(at, f"must be from 1 to {control.max}, not {_show(rating)}")


# Label Studio's <Labels> stores regions in the format of the object it labels.
_SPAN_CHECKS = {"text": _check_text_span, "html": _check_html_span, "paragraphs": _check_paragraph_span}
_CHECKS = {
    "choices": _check_choices,
    "taxonomy": _check_taxonomy,
    "labels": _check_text_span,
    "hypertextlabels": _check_html_span,
    "paragraphlabels": _check_paragraph_span,
    "polygonlabels": _check_polygon,
    "keypointlabels": _check_keypoints,
    "textarea": _check_textarea,
    "rating": _check_rating,
}


def _check_optional_keys(item: dict, index: int) -> None:
    for key in ("origin", "parentID"):
        if key in item and item[key] is not None and not isinstance(item[key], str):
            _fail(f"$[{index}].{key}", f"must be a string, not {_describe(item[key])}")
    for key in ("score", "image_rotation"):
        if key in item and item[key] is not None and not _is_number(item[key]):
            _fail(f"$[{index}].{key}", f"must be a number, not {_describe(item[key])}")
    for key in ("original_width", "original_height"):
        if key in item and item[key] is not None and (not _is_number(item[key]) or not 0 < item[key] <= 10**9):
            _fail(f"$[{index}].{key}", f"must be the image's size in pixels (a positive number), "
                                       f"not {_describe(item[key])}")
    for key in ("readonly", "hidden"):
        if key in item and item[key] is not True and item[key] is not False:
            _fail(f"$[{index}].{key}", f"must be true or false, not {_describe(item[key])}")
    if "meta" in item and item["meta"] is not None and not isinstance(item["meta"], dict):
        _fail(f"$[{index}].meta", f"must be an object, not {_describe(item['meta'])}")


def _check_relation(item: dict, index: int, spec: CompiledSpec) -> None:
    if not spec.relation_controls:
        _fail(f"$[{index}].type", "this label schema has no relation control, so results cannot hold relations")
    for key, what in (("from_id", "starts from"), ("to_id", "points to")):
        ref = item.get(key, _MISSING)
        if ref is _MISSING:
            _fail(f"$[{index}].{key}", f"missing: the id of the region the relation {what}")
        if not isinstance(ref, str) or not ref:
            _fail(f"$[{index}].{key}", f"must be a region id (a non-empty string), not {_describe(ref)}")
    if item["from_id"] == item["to_id"]:
        _fail(f"$[{index}].to_id", "a relation links two different regions")
    direction = item.get("direction", "right")
    if direction not in DIRECTIONS or not isinstance(direction, str):
        _fail(f"$[{index}].direction", f"must be one of right, left, bi, not {_describe(direction)}")
    labels = item.get("labels", [])
    if labels is None:
        return
    if not isinstance(labels, list):
        _fail(f"$[{index}].labels", f"must be an array of relation labels, not {_describe(labels)}")
    for position, label in enumerate(labels):
        if not isinstance(label, str) or label not in spec.relation_labels:
            reason = (f"must be a relation label (a string), not {_describe(label)}" if not isinstance(label, str)
                      else f"{_show(label)} is not a relation label (relation labels: "
                           f"{_listing(sorted(spec.relation_labels)) or 'none'})")
            _fail(f"$[{index}].labels[{position}]", reason)
    if len(labels) > 1 and len(set(labels)) != len(labels):
        _fail(f"$[{index}].labels", "names the same label twice")


def validate_result(spec: dict | CompiledSpec, result: Any, data: dict | None = None, *,
                    require_complete: bool = False) -> None:
    """Check a result against a normalized spec; SchemaMismatch(path, reason) at the first problem.

    With `data` (the task's data), span offsets and quoted text are checked against the text field.
    `require_complete` also demands a result for every required control that is visible (a submitted
    annotation; a draft or a prediction may be partial). Any JSON-shaped input gives None or SchemaMismatch.
    """
    compiled = compile_spec(spec)
    if not isinstance(data, dict):
        data = None
    if not isinstance(result, list):
        _fail("$", f"a result must be an array of regions, not {_describe(result)}")
    region_ids: dict[str, int] = {}  # ids of every item but per-region ones, which repeat their region's
    regions: dict[str, int] = {}  # ids of drawn regions (a subset)
    whole_task: dict[str, int] = {}
    per_region: dict[tuple[str, str], int] = {}  # (control, region id) → index
    relations: list[int] = []
    for index, item in enumerate(result):
        if not isinstance(item, dict):
            _fail(f"$[{index}]", f"must be a region object with from_name, to_name, type and value, "
                                 f"not {_describe(item)}")
        kind = item.get("type", _MISSING)
        if kind == "relation":
            _check_relation(item, index, compiled)
            relations.append(index)
            continue
        name = item.get("from_name", _MISSING)
        if name is _MISSING:
            _fail(f"$[{index}].from_name", f"missing: the control that made this region "
                                           f"({_listing(compiled.controls)})")
        if not isinstance(name, str):
            _fail(f"$[{index}].from_name", f"must be a control name, not {_describe(name)}")
        control = compiled.controls.get(name)
        if control is None:
            _fail(f"$[{index}].from_name", f"{_show(name)} is not a control of this label schema "
                                           f"({_listing(compiled.controls)})")
        if kind is _MISSING:
            _fail(f"$[{index}].type", f"missing: {control.result_type!r} for control {name!r}")
        if kind != control.result_type:
            _fail(f"$[{index}].type", f"{_show(kind)} does not match control {name!r}, whose results are "
                                      f"{control.result_type!r}")
        to_name = item.get("to_name", _MISSING)
        if to_name != control.to or not isinstance(to_name, str):
            _fail(f"$[{index}].to_name", f"{'missing' if to_name is _MISSING else _show(to_name)}: control "
                                         f"{name!r} labels {control.to!r}")
        if control.per_region:
            region_id = item.get("id", _MISSING)
            if region_id is _MISSING:
                _fail(f"$[{index}].id", f"missing: control {name!r} classifies regions, so its items carry the "
                                        "id of their region")
            if not isinstance(region_id, str) or not region_id:
                _fail(f"$[{index}].id", f"must be a region id (a non-empty string), not {_describe(region_id)}")
            if (name, region_id) in per_region:
                _fail(f"$[{index}]", f"control {name!r} already has a result for region {_show(region_id)} at "
                                     f"$[{per_region[name, region_id]}]; it takes one per region")
            per_region[name, region_id] = index
        elif "id" in item:
            region_id = item["id"]
            if not isinstance(region_id, str) or not region_id:
                _fail(f"$[{index}].id", f"must be a non-empty string, not {_describe(region_id)}")
            if region_id in region_ids:
                _fail(f"$[{index}].id", f"duplicate region id {_show(region_id)} (also at $[{region_ids[region_id]}])")
            region_ids[region_id] = index
            if control.draws_regions:
                regions[region_id] = index
        _check_optional_keys(item, index)
        value = item.get("value", _MISSING)
        if not isinstance(value, dict):
            _fail(f"$[{index}].value", "missing: the region's value" if value is _MISSING
                  else f"must be an object, not {_describe(value)}")
        if control.one_per_result:
            if name in whole_task:
                _fail(f"$[{index}]", f"control {name!r} already has a result at $[{whole_task[name]}]; "
                                     "it takes one per annotation")
            whole_task[name] = index
        if kind == "rectanglelabels":
            _check_bbox(value, index, control, data, item)
        else:
            control.check(value, index, control, data)
    for (name, region_id), index in per_region.items():
        # A per-region item repeats its region's id and value fields (x, y, width… or start, end…) next to its
        # own choices, text or rating; the region must be drawn in this result, on the control's object.
        where = regions.get(region_id)
        if where is None:
            other = f" ($[{region_ids[region_id]}] is not a region)" if region_id in region_ids else ""
            _fail(f"$[{index}].id", f"no region of this result has the id {_show(region_id)}{other}; control "
                                    f"{name!r} classifies regions")
        if result[where]["to_name"] != result[index]["to_name"]:
            _fail(f"$[{index}].id", f"region {_show(region_id)} at $[{where}] is on {result[where]['to_name']!r}, "
                                    f"but control {name!r} classifies regions of {result[index]['to_name']!r}")
    for index in relations:
        item = result[index]
        for key in ("from_id", "to_id"):
            if item[key] not in region_ids:
                _fail(f"$[{index}].{key}", f"no region of this result has the id {_show(item[key])}")
    if require_complete:
        _check_complete(compiled, result, whole_task, regions, per_region, relations)


def _check_complete(compiled: CompiledSpec, result: list, whole_task: dict, regions: dict, per_region: dict,
                    relations: list) -> None:
    """Every required control has its items, unless its visible_when conditions hide it: Label Studio only
    demands what is shown. A required per-region control needs an item for every region of its object."""
    present = set(whole_task)
    for item in result:  # region controls: any item of theirs counts
        if isinstance(item, dict) and isinstance(item.get("from_name"), str):
            present.add(item["from_name"])
    selected: dict[str, set[str]] | None = None
    for control in compiled.required:
        if control.type == "relation":
            if not relations:
                _fail("$", f"control {control.name!r} is required: draw at least one relation")
            continue
        if not control.per_region and control.name in present:
            continue
        if control.visible_when and selected is None:
            selected = _selected_choices(compiled, result, whole_task)
        if not control.per_region:
            if _shown(control, selected, None):
                _fail("$", f"control {control.name!r} is required but the result has nothing for it")
            continue
        for region_id, where in regions.items():
            region = result[where]
            if region["to_name"] == control.to and (control.name, region_id) not in per_region \
                    and _shown(control, selected, region):
                _fail(f"$[{where}]", f"control {control.name!r} is required for every region of "
                                     f"{control.to!r}, and region {_show(region_id)} has no result for it")


def _selected_choices(compiled: CompiledSpec, result: list, whole_task: dict) -> dict[str, set[str]]:
    """The labels chosen per choices control (every step of a path counts: its ancestors are chosen too)."""
    selected: dict[str, set[str]] = {}
    for name, index in whole_task.items():
        control = compiled.controls[name]
        if control.type != "choices":
            continue
        chosen: set[str] = set()
        for entry in result[index]["value"].get(control.label_key, ()):
            chosen.update(entry if isinstance(entry, list) else (entry,))
        selected[name] = chosen
    return selected


def _shown(control: CompiledControl, selected: dict[str, set[str]] | None, region: dict | None) -> bool:
    """Whether the control is shown at submission, for the whole task (`region` None) or for one region."""
    for condition in control.visible_when:
        when = condition["when"]
        if when == "no-region-selected":
            if region is not None:
                return False
        elif when == "region-selected":
            # For the whole task, only while a region is selected: not a demand at submission.
            if region is None or condition.get("control", region["from_name"]) != region["from_name"]:
                return False
            if "values" in condition:
                labels = region["value"].get(LABEL_KEYS[region["type"]], ())
                if not set(condition["values"]).intersection(labels):
                    return False
        else:
            names = [condition["control"]] if "control" in condition else list(selected or ())
            values = condition.get("values")
            hit = any((selected or {}).get(name) and (values is None or not selected[name].isdisjoint(values))
                      for name in names)
            if hit != (when == "choice-selected"):
                return False
    return True


# --- labels in use, remaps -------------------------------------------------------------------------------


def spec_labels(spec: dict | CompiledSpec) -> dict[str, set[str]]:
    """Every selectable label value per control: leaf values for a taxonomy (every node with leafs_only
    false); an empty set for textarea and rating."""
    compiled = compile_spec(spec)
    return {name: set(control.labels) for name, control in compiled.controls.items()}


def _item_labels(item: dict) -> list[str]:
    """The label values an item carries (the leaf of each taxonomy path); junk is skipped."""
    kind = item.get("type")
    if kind == "relation":
        labels = item.get("labels")
    else:
        value = item.get("value")
        key = LABEL_KEYS.get(kind) if isinstance(kind, str) else None
        labels = value.get(key) if key and isinstance(value, dict) else None
        if kind in ("taxonomy", "choices") and isinstance(labels, list):  # a path counts as its last step
            labels = [entry[-1] if isinstance(entry, list) and entry else entry for entry in labels]
    if not isinstance(labels, list):
        return []
    return [label for label in labels if isinstance(label, str)]


def result_labels(spec: dict | CompiledSpec, result: Any) -> dict[str, set[str]]:
    """Label values used per control (from_name); a taxonomy path counts as its leaf; relation labels
    count under the relation control declaring them (the first one if none does). A control with items
    but no labels (textarea, rating) appears with an empty set."""
    compiled = compile_spec(spec)
    used: dict[str, set[str]] = {}
    if not isinstance(result, list):
        return used
    for item in result:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "relation":
            for label in _item_labels(item):
                owner = compiled.relation_owner(label)
                if owner is not None:
                    used.setdefault(owner, set()).add(label)
            continue
        name = item.get("from_name")
        if isinstance(name, str):
            used.setdefault(name, set()).update(_item_labels(item))
    return used


def remap_result(spec: dict | CompiledSpec, result: Any, remap: dict) -> list:
    """A new result with labels renamed or merged (`"old": "new"`) or deleted (`"old": None`) per control.

    `spec` is the target (new) spec: a path of hierarchical choices is rewritten to the label's full path
    there, so moving a label to another branch needs no remap entry. A region left without labels is
    dropped, and so are its per-region items and every relation touching it, and a relation whose labels
    were all deleted. A control mapped to None as a whole (`{"transcript": None}`) loses all its items.
    Relation labels use the entries of relation controls (or of controls that neither `spec` nor the
    result's regions know: a removed relation control). The input is not modified.
    """
    compiled = compile_spec(spec)
    remap = remap if isinstance(remap, dict) else {}
    if not isinstance(result, list):
        return []
    region_names = {item["from_name"] for item in result if isinstance(item, dict)
                    and item.get("type") != "relation" and isinstance(item.get("from_name"), str)}
    relation_map: dict[str, str | None] = {}
    for name, mapping in remap.items():
        control = compiled.controls.get(name)
        is_relation = control.type == "relation" if control is not None else name not in region_names
        if is_relation and isinstance(mapping, dict):
            relation_map.update(mapping)

    out: list = []
    dropped: set[str] = set()
    dropped_regions: set[str] = set()
    for item in result:
        if not isinstance(item, dict) or item.get("type") == "relation":
            out.append(_copy_json(item))
            continue
        name = item.get("from_name")
        region_id = item.get("id") if isinstance(item.get("id"), str) else None
        is_region = _is_region(item)
        if isinstance(name, str) and name in remap and remap[name] is None:
            if region_id is not None:
                dropped.add(region_id)
                if is_region:
                    dropped_regions.add(region_id)
            continue
        mapping = remap.get(name) if isinstance(name, str) else None
        new = _copy_json(item)
        value = new.get("value")
        kind = new.get("type")
        key = LABEL_KEYS.get(kind) if isinstance(kind, str) else None
        if key is None or not isinstance(value, dict) or not isinstance(value.get(key), list):
            out.append(new)
            continue
        mapping = mapping if isinstance(mapping, dict) else {}
        control = compiled.controls.get(name) if isinstance(name, str) else None
        if kind in ("taxonomy", "choices"):
            relabelled = _remap_choices(value[key], mapping, control)
        else:
            relabelled = _remap_labels(value[key], mapping)
        if not relabelled and value[key]:
            if region_id is not None:
                dropped.add(region_id)
                if is_region:
                    dropped_regions.add(region_id)
            continue
        value[key] = relabelled
        out.append(new)

    # Per-region items (choices, text, rating on a region, repeating its id) go with their region; an id
    # is gone, for relations, when no remaining item carries it.
    kept = []
    for item in out:
        if isinstance(item, dict) and not _is_region(item) and item.get("type") != "relation" \
                and isinstance(item.get("id"), str) and item["id"] in dropped_regions:
            continue
        kept.append(item)
    remaining = {item["id"] for item in kept if isinstance(item, dict) and item.get("type") != "relation"
                 and isinstance(item.get("id"), str)}
    gone = dropped - remaining
    final = []
    for item in kept:
        if isinstance(item, dict) and item.get("type") == "relation":
            ends = (item.get("from_id"), item.get("to_id"))
            if any(isinstance(end, str) and end in gone for end in ends):
                continue
            labels = item.get("labels")
            if isinstance(labels, list) and labels and relation_map:
                item["labels"] = _remap_labels(labels, relation_map)
                if not item["labels"]:
                    continue
        final.append(item)
    return final


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data, without recursion (so any nesting depth is fine)."""
    if not isinstance(value, dict | list):
        return value
    root: dict | list = {} if isinstance(value, dict) else []
    stack = [(value, root)]
    while stack:
        source, target = stack.pop()
        for key, child in (source.items() if isinstance(source, dict) else enumerate(source)):
            if isinstance(child, dict | list):
                copy: Any = {} if isinstance(child, dict) else []
                stack.append((child, copy))
            else:
                copy = child
            if isinstance(target, dict):
                target[key] = copy
            else:
                target.append(copy)
    return root


def _remap_labels(labels: list, mapping: dict) -> list:
    out: list = []
    for label in labels:
        target = mapping.get(label, label) if isinstance(label, str) else label
        if target is not None and target not in out:
            out.append(target)
    return out


def _is_region(item: dict) -> bool:
    kind = item.get("type")
    return isinstance(kind, str) and kind in REGION_RESULT_TYPES


def _remap_choices(entries: list, mapping: dict, control: CompiledControl | None) -> list:
    """Choices as labels or paths; a path's last step is the label that is remapped, and the path is then
    rewritten to where that label sits in the new tree."""
    out: list = []
    for entry in entries:
        if isinstance(entry, list):
            if not entry or not isinstance(entry[-1], str):
                new: Any = entry
            else:
                label = mapping.get(entry[-1], entry[-1])
                if label is None:
                    continue
                if control is not None and isinstance(label, str) and label in control.path_of:
                    new = list(control.path_of[label])
                else:
                    new = entry[:-1] + [label]
        elif isinstance(entry, str):
            new = mapping.get(entry, entry)
            if new is None:
                continue
            if control is not None and control.hierarchical and isinstance(new, str) \
                    and len(control.path_of.get(new, ())) > 1:
                new = list(control.path_of[new])  # no longer top-level: a bare label cannot say where it is
        else:
            new = entry
        if new not in out:
            out.append(new)
    return out


def validate_remap(new_spec: dict | CompiledSpec, remap: Any) -> None:
    """A remap is `{control: {old label: new label or null}}` (or `{control: null}`: drop the control's
    items); every new label must exist in the new spec. SpecError with a path under `$.remap`."""
    if remap is None:
        return
    compiled = compile_spec(new_spec)
    if not isinstance(remap, dict):
        raise SpecError("$.remap", f"must be an object {{control: {{old label: new label or null}}}}, "
                                   f"not {_describe(remap)}")
    for name, mapping in remap.items():
        path = _key("$.remap", name)
        if not isinstance(name, str):
            raise SpecError(path, "must be keyed by control name")
        if mapping is None:
            continue
        if not isinstance(mapping, dict):
            raise SpecError(path, "must be an object {old label: new label or null} or null, "
                                  f"not {_describe(mapping)}")
        control = compiled.controls.get(name)
        if control is None or control.type == "relation":
            available = compiled.relation_labels  # a removed relation control's labels may move to another
        else:
            available = control.labels
        for old, new in mapping.items():
            at = _key(path, old)
            if not isinstance(old, str) or not old:
                raise SpecError(at, "old labels must be non-empty strings")
            if new is None:
                continue
            if not isinstance(new, str) or new not in available:
                if control is None:
                    raise SpecError(at, f"the new schema has no control {name!r}: its labels can only be "
                                        "mapped to null (or, for relations, to a relation label)")
                raise SpecError(at, f"{_show(new)} is not a label of {name!r} in the new schema "
                                    f"(labels: {_listing(sorted(available)) or 'none'}); map to null to delete")


def orphaned_labels(old_spec: dict | CompiledSpec, new_spec: dict | CompiledSpec, in_use: dict[str, set[str]],
                    remap: dict | None) -> dict[str, list[str]]:
    """Labels in use (per control, as `result_labels` counts them) that the new spec would orphan:
    gone from the new spec and not remapped to one of its labels or to None. A removed control in use
    lists all its labels (an empty list for a textarea or rating: map the control to None to drop its
    items); so does a control whose result type or data field changed, which only None can resolve.
    SpecError for a malformed remap (see `validate_remap`)."""
    validate_remap(new_spec, remap)
    old, new = compile_spec(old_spec), compile_spec(new_spec)
    remap = remap or {}
    orphaned: dict[str, list[str]] = {}
    for name, used in in_use.items():
        if name in remap and remap[name] is None:
            continue
        mapping = remap.get(name) or {}
        before, after = old.controls.get(name), new.controls.get(name)
        relation = "relation" in (getattr(before, "type", None), getattr(after, "type", None))
        if relation:
            available, renamable = new.relation_labels, True
        elif after is None or (before is not None and (before.result_type, before.to) != (after.result_type, after.to)):
            available, renamable = frozenset(), False  # items of this control can no longer be valid
        else:
            available, renamable = after.labels, True
        lost = []
        for label in used:
            if label in mapping:
                target = mapping[label]
                if target is None or (renamable and target in available):
                    continue
                lost.append(label)
            elif label not in available:
                lost.append(label)
        if lost or (not used and not renamable):
            orphaned[name] = sorted(lost)
    return orphaned
