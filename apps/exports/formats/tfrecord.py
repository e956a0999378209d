"""TFRecord files of `tf.train.Example` protos, one per task and one file per split (`train.tfrecord`…), made
without TensorFlow.

Each Example carries `id` (int64), `split` (bytes), one bytes feature per data field of the spec (text as UTF-8,
anything else as JSON; a field named like one of ours becomes `data_<name>`; a missing field is left out), then,
for a spec with exactly one whole-task single-choice control, `label` (bytes, empty when unlabelled) and `label_id`
(int64, the label's index in the spec, -1 when unlabelled), then `result` (the chosen result as JSON), `annotator`
(bytes, when the chosen annotation has an author) and `consensus_confidence` (float, when there is a consensus).

The protobuf is encoded by hand: Example{1: Features{1: map<string, Feature>}}, Feature{1: BytesList | 2: FloatList
| 3: Int64List}, lists packed as proto3 does; map entries are sorted by key so the bytes are deterministic.
Framing: length (uint64 LE), masked crc32c of the length, the data, masked crc32c of the data.
The same row (`row_of`) feeds the Parquet writer.
"""

import json
import struct
from collections.abc import Iterable

import crc32c

from apps.exports.records import Options, Output, Record
from apps.projects.label_spec import compile_spec

RESERVED = ("id", "split", "label", "label_id", "result", "annotator", "consensus_confidence")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class Layout:
    """The columns of a spec's rows: its data fields and, for one single-choice control, its label names."""

    def __init__(self, spec):
        compiled = compile_spec(spec)
        self.data_columns: list[tuple[str, str]] = []  # (column, data key), in spec order
        seen = set()
        for name, entry in compiled.spec.get("data", {}).items():
            key = entry.get("field", name)
            if key not in seen:
                seen.add(key)
                self.data_columns.append((f"data_{key}" if key in RESERVED else key, key))
        controls = [c for c in compiled.controls.values() if c.type == "choices" and not c.per_region]
        self.control = controls[0] if len(controls) == 1 and not controls[0].multiple else None
        self.names: list[str] = []
        if self.control is not None:
            stack = list(reversed(compiled.spec["controls"][self.control.name].get("labels", [])))
            while stack:  # depth first, in spec order: the ClassLabel ids
                label = stack.pop()
                if label["value"] in self.control.labels:
                    self.names.append(label["value"])
                stack.extend(reversed(label.get("children") or []))
        self.label_ids = {name: index for index, name in enumerate(self.names)}

    def chosen_label(self, result: list) -> str | None:
        """The label a result picks (a taxonomy path counts as its last step)."""
        for item in result or ():
            if isinstance(item, dict) and item.get("from_name") == self.control.name:
                for entry in (item.get("value") or {}).get(self.control.label_key) or []:
                    label = entry[-1] if isinstance(entry, list) and entry else entry
                    if isinstance(label, str):
                        return label
        return None


def row_of(record: Record, layout: Layout) -> dict:
    """One task as a flat row: the same columns, in the same order, for every record of a layout."""
    row = {"id": record.task_id, "split": record.split}
    for column, key in layout.data_columns:
        value = record.data.get(key)
        row[column] = value if isinstance(value, str) or value is None else _json(value)
    if layout.control is not None:
        label = layout.chosen_label(record.result)
        row["label"], row["label_id"] = label, layout.label_ids.get(label, -1)
    row["result"] = _json(record.result)
    row["annotator"] = record.chosen.author if record.chosen else None
    confidence = (record.consensus or {}).get("confidence")
    row["consensus_confidence"] = float(confidence) if confidence is not None else None
    return row


# --- protobuf ------------------------------------------------------------------------------------------


_ONE_BYTE = [bytes([n]) for n in range(128)]
_KEYS: dict[str, bytes] = {}  # a map entry's key field, per feature name


def _varint(value: int) -> bytes:
    if 0 <= value < 128:
        return _ONE_BYTE[value]
    value &= 0xFFFFFFFFFFFFFFFF  # negative int64: two's complement, ten bytes
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2) under its tag byte: 0x0a is field 1, 0x12 field 2, 0x1a field 3."""
    return tag + _varint(len(payload)) + payload


def _feature(value) -> bytes:
    if isinstance(value, int):
        return _field(b"\x1a", _field(b"\x0a", _varint(value)))  # int64_list: Int64List, packed
    if isinstance(value, float):
        return _field(b"\x12", b"\x0a\x04" + struct.pack("<f", value))  # float_list: FloatList, packed
    if isinstance(value, str):
        value = value.encode()
    return _field(b"\x0a", _field(b"\x0a", value))  # bytes_list: BytesList


def example(features: dict) -> bytes:
    """A serialized tf.train.Example of scalar features (None values are left out)."""
    entries = []
    for key, value in sorted(features.items()):
        if value is not None:
            if key not in _KEYS:
                _KEYS[key] = _field(b"\x0a", key.encode())
            entries.append(_field(b"\x0a", _KEYS[key] + _field(b"\x12", _feature(value))))
    return _field(b"\x0a", b"".join(entries))  # Example.features = Features{feature: map entries}


def _masked_crc(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


def write(records: Iterable[Record], *, spec, output: Output, options: Options) -> dict:
    layout = Layout(spec)
    counts = {"examples": 0, "splits": {}}
    files = {}
    for record in records:
        row = row_of(record, layout)
        if "label" in row and row["label"] is None:
            row["label"] = ""  # present in every example, so a FixedLenFeature parses it
        name = record.split or "export"
        if name not in files:
            files[name] = output.open(f"{name}.tfrecord")
        files[name].write(frame(example(row)))
        counts["examples"] += 1
        counts["splits"][name] = counts["splits"].get(name, 0) + 1
    if not counts["examples"]:
        output.write("export.tfrecord", b"")
    return counts
