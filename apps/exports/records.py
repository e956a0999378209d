"""What an export writer is given: the snapshot's records, one per task, and an output to write files into.

Writers (apps/exports/formats/<name>.py) are pure: `write(records, *, spec, output, options)` reads each
record once, in task-id order, and writes with flat memory (no list of all records); they never touch the
database. The job builds the records from a frozen DatasetSnapshot with a server-side cursor.
"""

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

# Fixed timestamp for archive members: the same snapshot exported twice gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# Records are made once per task and per annotation of every export, so they are plain slotted dataclasses
# (a frozen one takes three times as long to make); writers treat them as read-only.
@dataclass(slots=True)
class Annotation:
    id: int
    version: int
    result: list
    author: str | None  # email, or None for a model or an import without a member
    source: str  # human | model | consensus | review | import
    status: str  # submitted | accepted | rejected
    lead_time_ms: int | None
    created_at: str  # ISO 8601, UTC


@dataclass(slots=True)
class Record:
    """One task as the snapshot froze it."""

    task_id: int
    data: dict
    meta: dict
    split: str  # "train" | "val" | "test", or "" without a split
    result: list  # the labels the snapshot chose for the task (Label Studio region format); [] if none
    chosen: Annotation | None  # the annotation version `result` comes from (None: consensus or no label)
    annotations: tuple[Annotation, ...] = ()  # every annotation of the task the snapshot includes
    consensus: dict | None = None  # {"result", "confidence", "method"} or None
    predictions: tuple[dict, ...] = ()  # {"result", "score", "model_version"}
    external_id: str | None = None
    is_gold: bool = False
    agreement: float | None = None


@dataclass(frozen=True)
class Options:
    """What the export request asked for, and what the writer may need to know about the project."""

    project_id: int
    project_name: str
    schema_version: int
    snapshot_id: int | None = None
    created_at: str = ""  # the snapshot's time (ISO 8601), so headers do not change between exports
    include_media: bool = False
    media: Any = None  # callable(ref: str) -> bytes | None: a task's image/audio by URL or storage key
    image_size: Any = None  # callable(ref: str) -> (width, height) | None: from a stored image's header
    extra: dict = field(default_factory=dict)


class Output:
    """Files a writer makes. One file is published as it is; several become one zip archive (members sorted by
    name, fixed timestamps). Writers open files by relative POSIX names ("labels/train/12.txt")."""

    def __init__(self, stream: IO[bytes]):
        self.stream = stream
        self.files: dict[str, io.BytesIO | IO[bytes]] = {}

    def open(self, name: str) -> IO[bytes]:
        """A binary file to write `name` into (opening a name twice appends to it)."""
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"not a relative name: {name}")
        if name not in self.files:
            import tempfile

            self.files[name] = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
        return _Unclosable(self.files[name])

    def write(self, name: str, data: bytes) -> None:
        self.open(name).write(data)

    def finish(self) -> str:
        """Write the result to the stream; returns "file" or "zip"."""
        names = sorted(self.files)
        if len(names) == 1 and not names[0].count("/"):
            handle = self.files[names[0]]
            handle.seek(0)
            while chunk := handle.read(1024 * 1024):
                self.stream.write(chunk)
            return "file"
        with zipfile.ZipFile(self.stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                handle = self.files[name]
                handle.seek(0)
                with archive.open(info, "w") as member:
                    while chunk := handle.read(1024 * 1024):
                        member.write(chunk)
        return "zip"


class _Unclosable(io.RawIOBase):
    """A view of a spooled file that a writer may close (or use in `with`) without losing it."""

    def __init__(self, handle):
        self.handle = handle

    def writable(self):
        return True

    def write(self, data):
        return self.handle.write(data)


class Batched:
    """Many small writes gathered and handed on a megabyte at a time (a write into a spooled file costs a few
    microseconds of Python each: a tenth of a JSON Lines export). `flush()` before the file is read or closed."""

    LIMIT = 1024 * 1024

    def __init__(self, handle):
        self.handle, self.parts, self.size = handle, [], 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= self.LIMIT:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.handle.write(b"".join(self.parts))
            self.parts, self.size = [], 0


def records_of(items) -> Iterator[Record]:
    """Helper for tests and the command: the records of an iterable, unchanged."""
    yield from items
