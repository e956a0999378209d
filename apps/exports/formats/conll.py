"""CoNLL-2003 BIO tags for the text spans of a snapshot: `token -X- -X- TAG` lines, one document per task.

Layout: every task is a document opened by `-DOCSTART- -X- -X- O` and a blank line; sentences are separated by
blank lines. One file per split (`train.conll`, `val.conll`, `test.conll`, or `export.conll` without splits);
with several spans controls, one set per control (`<control>.conll`, or `<control>/<split>.conll`).

Tokens come from a fixed regex (`\\w+|[^\\w\\s]`), so the same text always gives the same tokens. A token that
overlaps a span is tagged with the span's (first) label, the span's first token `B-`, the others `I-`. BIO tags
cannot overlap: of overlapping spans the longer wins (a tie goes to the earlier start, then to the label that
sorts first) and the shorter is dropped whole. A sentence ends after `.`, `!` or `?` followed by whitespace,
unless the next token continues an entity.
"""

import bisect
import re
from collections.abc import Iterable

from apps.exports.records import Options, Output, Record
from apps.projects.label_spec import compile_spec

TOKEN = re.compile(r"\w+|[^\w\s]")
SENTENCE_END = frozenset(".!?")
SPACE = re.compile(r"\s")
DOCSTART = "-DOCSTART- -X- -X- O\n\n"


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """(token, start, end) in code points."""
    return [(match.group(), match.start(), match.end()) for match in TOKEN.finditer(text)]


def text_span_controls(spec) -> list:
    """The spans controls over a plain text field, in spec order (html and paragraph offsets are not text offsets)."""
    return [c for c in compile_spec(spec).controls.values() if c.type == "spans" and c.target == "text"]


def _code_points(text: str, start: int, end: int, quoted) -> tuple[int, int]:
    """Offsets in code points; offsets that are UTF-16 code units (older Label Studio) are converted when the quoted
    text is found at them that way, as the label spec accepts them."""
    if not isinstance(quoted, str) or text[start:end] == quoted:
        return start, end
    units = text.encode("utf-16-le")
    if units[2 * start:2 * end].decode("utf-16-le", errors="replace") != quoted:
        return start, end
    return len(units[:2 * start].decode("utf-16-le")), len(units[:2 * end].decode("utf-16-le"))


def spans_of(result: list, control, text: str) -> list[tuple[int, int, list[str]]]:
    """(start, end, labels) of a result's spans for one control, in code points, clipped to the text."""
    spans = []
    for item in result or ():
        if not isinstance(item, dict) or item.get("from_name") != control.name or item.get("type") != "labels":
            continue
        value = item.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels") or []
        if not isinstance(start, int) or not isinstance(end, int) or not labels:
            continue
        start, end = _code_points(text, start, end, value.get("text"))
        start, end = max(start, 0), min(end, len(text))
        if start < end:
            spans.append((start, end, [str(label) for label in labels]))
    return spans


def bio_tags(tokens: list[tuple[str, int, int]], spans: list[tuple[int, int, list[str]]]) -> list[str]:
    """One tag per token; the longer of overlapping spans wins."""
    tags = ["O"] * len(tokens)
    ends = [token_end for _, _, token_end in tokens]
    for start, end, labels in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
        covered = []
        i = bisect.bisect_right(ends, start)  # the first token ending after the span starts
        while i < len(tokens) and tokens[i][1] < end:
            covered.append(i)
            i += 1
        if not covered or any(tags[i] != "O" for i in covered):
            continue
        label = SPACE.sub("_", labels[0])  # a label with a space would break the columns
        for position, i in enumerate(covered):
            tags[i] = ("B-" if position == 0 else "I-") + label
    return tags


def document(text: str, spans: list) -> tuple[bytes, int]:
    """One document (DOCSTART, then its sentences) and its number of tokens."""
    tokens = tokenize(text)
    tags = bio_tags(tokens, spans)
    lines = [DOCSTART]
    for i, ((token, _, end), tag) in enumerate(zip(tokens, tags, strict=True)):
        lines.append(f"{token} -X- -X- {tag}\n")
        last = i == len(tokens) - 1
        if last or (token in SENTENCE_END and tokens[i + 1][1] > end and not tags[i + 1].startswith("I-")):
            lines.append("\n")
    return "".join(lines).encode(), len(tokens)


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    controls = text_span_controls(spec)
    if not controls:
        raise ValueError("CoNLL-2003 needs a spans control over a text field")
    several = len(controls) > 1
    counts = {"documents": 0, "spans": 0, "tokens": 0, "splits": {}}
    files = {}
    for record in records:
        split = record.split or ""
        counts["documents"] += 1
        counts["splits"][split or "export"] = counts["splits"].get(split or "export", 0) + 1
        for control in controls:
            text = record.data.get(control.field)
            text = text if isinstance(text, str) else ""
            spans = spans_of(record.result, control, text)
            counts["spans"] += len(spans)
            block, tokens = document(text, spans)
            counts["tokens"] += tokens
            if several:
                name = f"{control.name}/{split}.conll" if split else f"{control.name}.conll"
            else:
                name = f"{split or 'export'}.conll"
            if name not in files:
                files[name] = output.open(name)
            files[name].write(block)
    if not counts["documents"]:
        output.write("export.conll", b"")  # an empty snapshot is an empty file, not an empty archive
    return counts
