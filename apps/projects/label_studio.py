"""Label Studio labeling configs (the `<View>` XML) converted to Quorum label specs.

Object tags become data fields: ``Text`` is text, ``HyperText`` html, ``Paragraphs`` paragraphs (its
``textKey`` kept as ``text_key``), all three ``url`` with ``valueType="url"``; ``Image`` is image, ``Audio``
and ``AudioPlus`` are audio. The object's ``name`` is what results call ``to_name`` and its
``value="$field"`` names the task data key. Control tags become controls: ``Choices``, ``Taxonomy``,
``Labels`` (spans), ``HyperTextLabels`` (html_spans), ``ParagraphLabels`` (paragraph_spans),
``RectangleLabels``, ``PolygonLabels``, ``KeyPointLabels``, ``TextArea``, ``Rating`` and ``Relations``.
Layout tags (``View``, ``Header``, ``Style``, ``Collapse``, ``Panel``, ``Filter``) are looked through,
and the unlabelled drawing tools ``Rectangle``, ``Polygon``, ``KeyPoint`` are skipped; any other tag
is refused with a SpecError naming it, rather than converted into something that would not match
the project's Label Studio results. Tag and attribute names are matched case-insensitively, as
Label Studio does. A ``Choice``/``Label`` with an ``alias`` is stored under its alias (what Label
Studio writes into results), and exact duplicate siblings (same value, no conflicting hotkey or
color) are merged, since Label Studio results cannot tell them apart.

Label Studio's own rules, mirrored:

* ``<Taxonomy>`` is hierarchical choices answering ``{"taxonomy": paths}``; inner nodes may be picked
  unless ``leafsOnly="true"`` (Label Studio's default is false).
* ``<Choices>`` shows nested ``<Choice>`` tags only with ``allowNested="true"``; its results are then paths
  (``{"choices": [["Animal", "Cat"]]}``) and picking an inner node picks its children too. Without
  allowNested Label Studio shows and stores the top-level choices alone, and so does the spec.
* ``perRegion="true"`` (Choices, Taxonomy, TextArea, Rating) classifies each region instead of the task.
* ``visibleWhen`` with ``whenTagName``, ``whenChoiceValue`` and ``whenLabelValue`` on a control or on an
  enclosing ``<View>`` becomes ``visible_when``; a control placed inside a ``<Choice>`` is shown when that
  choice is selected (Label Studio's own ``<Choice>`` nests only choices: this reads such a config as the
  visibleWhen="choice-selected" it stands for).

The XML is parsed by defusedxml with DTDs forbidden: no entities, no external references, no
network. Configs over 1 MiB are refused.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .label_spec import VISIBILITY, SpecError, normalize_spec

MAX_CONFIG_BYTES = 1024 * 1024
MAX_DEPTH = 100

OBJECT_TAGS = {
    "text": "text",
    "hypertext": "html",
    "paragraphs": "paragraphs",
    "image": "image",
    "audio": "audio",
    "audioplus": "audio",
}
LABEL_TAGS = {
    "labels": "spans",
    "hypertextlabels": "html_spans",
    "paragraphlabels": "paragraph_spans",
    "rectanglelabels": "bbox",
    "polygonlabels": "polygon",
    "keypointlabels": "keypoints",
}
CHOICE_TAGS = ("choices", "taxonomy")
CLASSIFICATION_TAGS = CHOICE_TAGS + ("textarea", "rating")  # the tags that may classify regions (perRegion)
CONTROL_TAGS = frozenset(LABEL_TAGS) | frozenset(CLASSIFICATION_TAGS)
LAYOUT_TAGS = frozenset(("view", "header", "style", "collapse", "panel", "filter"))
SKIPPED_TOOLS = frozenset(("rectangle", "polygon", "keypoint"))
SUPPORTED = ("View, Header, Style; Text, HyperText, Paragraphs, Image, Audio, AudioPlus; Choices, Taxonomy, "
             "Labels, HyperTextLabels, ParagraphLabels, RectangleLabels, PolygonLabels, KeyPointLabels, TextArea, "
             "Rating, Relations")


def _attrs(element: Element) -> dict[str, str]:
    return {key.lower(): value for key, value in element.attrib.items()}


def _tag(element: Element) -> str:
    return element.tag.lower() if isinstance(element.tag, str) else ""


def _where(element: Element) -> str:
    """`<RectangleLabels name="label">`: how an error names the tag it is about."""
    attrs = _attrs(element)
    for key in ("name", "value"):
        if key in attrs:
            shown = attrs[key] if len(attrs[key]) <= 60 else attrs[key][:60] + "…"
            return f'<{element.tag} {key}="{shown}">'
    return f"<{element.tag}>"


def _flag(element: Element, key: str, default: bool = False) -> bool:
    raw = _attrs(element).get(key.lower())
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise SpecError(_where(element), f'{key}="{raw}" must be true or false')


def _integer(element: Element, key: str) -> int | None:
    raw = _attrs(element).get(key.lower())
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise SpecError(_where(element), f'{key}="{raw}" must be a whole number') from None


def _parse(xml) -> Element:
    if isinstance(xml, bytes):
        if len(xml) > MAX_CONFIG_BYTES:
            raise SpecError("<View>", "the labeling config is larger than 1 MiB")
        try:
            xml = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise SpecError("<View>", "the labeling config is not UTF-8 text") from None
    if not isinstance(xml, str):
        raise SpecError("<View>", "the labeling config must be a string of XML")
    if len(xml) > MAX_CONFIG_BYTES or len(xml.encode("utf-8", "replace")) > MAX_CONFIG_BYTES:
        raise SpecError("<View>", "the labeling config is larger than 1 MiB")
    if not xml.strip():
        raise SpecError("<View>", "the labeling config is empty")
    try:
        return fromstring(xml.strip(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise SpecError("<!DOCTYPE>", "DTDs, entity declarations and external references are not allowed "
                                      "in a labeling config") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        reason = str(getattr(exc, "msg", exc)).rsplit(": line", 1)[0]
        raise SpecError(f"line {line}, column {column + 1}", f"malformed XML: {reason}") from None
    except ValueError as exc:  # e.g. text that cannot be encoded for the parser
        raise SpecError("<View>", f"the labeling config cannot be parsed: {exc}") from None


def spec_from_label_config(xml: str) -> dict:
    """The normalized Quorum spec for a Label Studio labeling config; SpecError (path: the tag, such as
    `<RectangleLabels name="label">`, or a line and column) for anything it cannot convert faithfully."""
    root = _parse(xml)
    if _tag(root) != "view":
        raise SpecError(_where(root), "a labeling config starts with <View>")
    objects: dict[str, Element] = {}
    controls: list[tuple[Element, tuple]] = []  # with the visibility conditions around them
    relations: list[Element] = []
    # (element, depth, conditions of the enclosing views and choices, name of the enclosing choices)
    stack: list[tuple[Element, int, tuple, str | None]] = [(root, 0, (), None)]
    while stack:
        element, depth, conditions, choices = stack.pop()
        tag = _tag(element)
        if depth > MAX_DEPTH:
            raise SpecError(_where(element), f"tags are nested more than {MAX_DEPTH} levels deep")
        if tag in LAYOUT_TAGS:
            inner = conditions + _visibility(element) if tag == "view" else conditions
            stack.extend((child, depth + 1, inner, choices) for child in reversed(list(element)))
        elif tag == "choice" and choices is not None:
            # The labels themselves are read by _labels; this looks for controls placed inside a choice.
            value = _attrs(element).get("alias") or _attrs(element).get("value")
            inner = conditions + ({"when": "choice-selected", "control": choices, "values": [value]},) if value \
                else conditions
            stack.extend((child, depth + 1, inner, choices) for child in reversed(list(element)))
        elif tag in OBJECT_TAGS:
            name = _attrs(element).get("name")
            if not name:
                raise SpecError(_where(element), "an object tag needs a name")
            if name in objects:
                raise SpecError(_where(element), f"another object tag is also named {name!r}")
            objects[name] = element
        elif tag in CONTROL_TAGS:
            own = conditions + _visibility(element)
            controls.append((element, own))
            if tag in CHOICE_TAGS:
                name = _attrs(element).get("name") or ""
                stack.extend((child, depth + 1, own, name) for child in reversed(list(element)))
        elif tag == "relations":
            relations.append(element)
        elif tag in SKIPPED_TOOLS or tag == "":  # "": comments and processing instructions
            continue
        else:
            raise SpecError(_where(element), f"<{element.tag}> is not supported by Quorum (supported: {SUPPORTED})")

    data = {name: _data_field(element) for name, element in objects.items()}
    spec_controls: dict[str, dict] = {}
    where: dict[str, str] = {}
    for element, conditions in controls:
        name = _attrs(element).get("name")
        if not name:
            raise SpecError(_where(element), "a control tag needs a name")
        if name in spec_controls or name in objects:
            raise SpecError(_where(element), f"another tag is also named {name!r}")
        spec_controls[name] = _control(element, objects, conditions)
        where[name] = _where(element)
    for element in relations:
        name = _attrs(element).get("name") or "relations"
        base, number = name, 1
        while name in spec_controls or name in objects:
            number += 1
            name = f"{base}_{number}"
        spec_controls[name] = {"type": "relation", "labels": _labels(element, ("relation",), nested="refuse")}
        where[name] = _where(element)

    spec = {"data": data, "controls": spec_controls}
    try:
        return normalize_spec(spec)
    except SpecError as exc:
        raise SpecError(_where_in_config(exc.path, where, objects), f"{exc.reason} (at {exc.path})") from None


def _visibility(element: Element) -> tuple:
    """The condition of Label Studio's visibleWhen (with whenTagName, whenChoiceValue, whenLabelValue)."""
    attrs = _attrs(element)
    raw = attrs.get("visiblewhen", "")
    when = raw.strip().lower()
    tag_name = attrs.get("whentagname", "").strip()
    choice_value = attrs.get("whenchoicevalue", "")
    label_value = attrs.get("whenlabelvalue", "")
    if not when:
        # Without visibleWhen, whenChoiceValue alone shows the tag when any choices control has that value,
        # and whenLabelValue alone narrows a perRegion control to the regions with that label.
        if choice_value:
            return ({"when": "choice-selected", "values": [choice_value]},)
        if label_value and _tag(element) in CLASSIFICATION_TAGS and _flag(element, "perRegion"):
            return ({"when": "region-selected", "values": [label_value]},)
        return ()
    if when not in VISIBILITY:
        raise SpecError(_where(element), f'visibleWhen="{raw}" must be one of {", ".join(VISIBILITY)}')
    condition: dict = {"when": when}
    if when == "no-region-selected":
        return (condition,)
    if tag_name:
        condition["control"] = tag_name
    values = choice_value if when.startswith("choice") else label_value
    if values:  # Label Studio splits them on commas
        condition["values"] = [value.strip() for value in values.split(",") if value.strip()]
    return (condition,)


def _where_in_config(path: str, where: dict[str, str], objects: dict[str, Element]) -> str:
    for prefix, tags in (("$.controls", where), ("$.data", {name: _where(el) for name, el in objects.items()})):
        for name, tag in tags.items():
            for head in (f"{prefix}.{name}", f'{prefix}["{name}"]'):
                if path == head or path.startswith((head + ".", head + "[")):
                    return tag
    return "<View>"


def _data_field(element: Element) -> dict:
    attrs = _attrs(element)
    value = attrs.get("value", "")
    if not value.startswith("$") or len(value) < 2:
        raise SpecError(_where(element), f'value="{value}" must name a task data field, such as value="$text"')
    kind = OBJECT_TAGS[_tag(element)]
    if kind in ("text", "html", "paragraphs") and attrs.get("valuetype", "").lower() == "url":
        kind = "url"  # the task holds a link to the content, not the content: offsets cannot be checked
    field = {"type": kind, "field": value[1:]}
    if kind == "paragraphs" and attrs.get("textkey"):
        field["text_key"] = attrs["textkey"]
    return field


def _control(element: Element, objects: dict[str, Element], conditions: tuple) -> dict:
    tag = _tag(element)
    attrs = _attrs(element)
    to = attrs.get("toname")
    if not to:
        raise SpecError(_where(element), "a control tag needs toName, the object tag it labels")
    if "," in to:
        raise SpecError(_where(element), f'toName="{to}" names several objects; a Quorum control labels one')
    if to not in objects:
        known = ", ".join(objects) or "none"
        raise SpecError(_where(element), f'toName="{to}" names no object tag of this config (objects: {known})')
    if attrs.get("value", "").startswith("$"):
        raise SpecError(_where(element), "labels loaded from task data (dynamic labels) are not supported")
    control: dict = {"to": to, "required": _flag(element, "required")}
    if _flag(element, "perRegion"):
        if tag not in CLASSIFICATION_TAGS:
            raise SpecError(_where(element), "perRegion is for the controls that classify a region: Choices, "
                                             "Taxonomy, TextArea and Rating")
        control["per_region"] = True
    if tag in LABEL_TAGS:
        control["type"] = LABEL_TAGS[tag]
        control["multiple"] = _choice_mode(element) == "multiple"
        control["labels"] = _labels(element, ("label",), nested="refuse")
    elif tag == "choices":
        allow_nested = _flag(element, "allowNested")
        labels = _labels(element, ("choice",), nested="allow" if allow_nested else "ignore")
        control.update(type="choices", multiple=_choice_mode(element) == "multiple", labels=labels)
        if any("children" in label for label in labels):
            # Results are paths under "choices", and picking an inner node picks it along with its children.
            control.update(taxonomy=False, leafs_only=False)
    elif tag == "taxonomy":
        # Label Studio's taxonomy is multi-select; maxUsages="1" makes it single. Inner nodes may be picked
        # unless leafsOnly is true.
        control.update(type="choices", taxonomy=True, multiple=_integer(element, "maxUsages") != 1,
                       leafs_only=_flag(element, "leafsOnly"), labels=_labels(element, ("choice",), nested="allow"))
    elif tag == "textarea":
        control["type"] = "textarea"
        max_length = _integer(element, "maxLength")
        if max_length is not None:
            control["max_length"] = max_length
    else:
        control["type"] = "rating"
        max_rating = _integer(element, "maxRating")
        if max_rating is not None:
            control["max"] = max_rating
    visible_when = []
    for condition in conditions:
        condition = dict(condition)
        if condition.get("control") in objects and condition["when"] == "region-selected":
            del condition["control"]  # whenTagName may name the object whose regions count: any of its regions
        visible_when.append(condition)
    if visible_when:
        control["visible_when"] = visible_when
    return control


def _choice_mode(element: Element) -> str:
    mode = _attrs(element).get("choice", "single").strip().lower()
    if mode in ("single", "single-radio"):
        return "single"
    if mode == "multiple":
        return "multiple"
    raise SpecError(_where(element), f'choice="{mode}" must be single, single-radio or multiple')


def _labels(element: Element, label_tags: tuple[str, ...], *, nested: str, depth: int = 0) -> list[dict]:
    """The label entries under a control (or under a Choice), looking through layout tags. Label tags nested
    in a label are children with `nested="allow"`, dropped with "ignore" (what Label Studio's Choices does
    without allowNested) and an error with "refuse". Controls inside are collected by the caller's walk."""
    if depth > MAX_DEPTH:
        raise SpecError(_where(element), f"choices are nested more than {MAX_DEPTH} levels deep")
    labels: list[dict] = []
    seen: dict[str, dict] = {}
    pending = list(element)
    while pending:
        child = pending.pop(0)
        tag = _tag(child)
        if tag in LAYOUT_TAGS and tag != "view":
            continue
        if tag == "view":
            pending[:0] = list(child)
            continue
        if tag == "" or tag in CONTROL_TAGS:  # comments and processing instructions; nested controls
            continue
        if tag not in label_tags:
            expected = " or ".join(f"<{name.title()}>" for name in label_tags)
            raise SpecError(_where(child), f"unexpected tag inside {_where(element)}; expected {expected}")
        attrs = _attrs(child)
        value = attrs.get("alias") or attrs.get("value")
        if not value:
            raise SpecError(_where(child), "a label needs a value")
        label: dict = {"value": value}
        if attrs.get("hotkey"):
            label["hotkey"] = attrs["hotkey"]
        if attrs.get("background"):
            label["color"] = attrs["background"]
        nested_children = [c for c in child if _tag(c) in label_tags]
        if nested_children and nested == "refuse":
            raise SpecError(_where(child), "labels cannot be nested here")
        if nested_children and nested == "allow":
            label["children"] = _labels(child, label_tags, nested=nested, depth=depth + 1)
        if value in seen:
            first = seen[value]
            if "children" in label or "children" in first or any(
                    key in label and key in first and label[key] != first[key] for key in ("hotkey", "color")):
                raise SpecError(_where(child), f"a sibling label already has the value {value!r}")
            continue  # an exact duplicate: Label Studio results cannot tell the two apart
        seen[value] = label
        labels.append(label)
    return labels
