"""The `tasks.sources` registry (DESIGN §3): tasks `next` may serve before the ordinary queue.

qa (gold tasks at the project's gold rate) and workforce (exam and training tasks) register a source
from their AppConfig.ready(). A source offers a task id and the kind of assignment it makes; offered
tasks are outside the task's annotation target (they take no slot). A source must not offer a task the
person already has an assignment on; if it does, the queue moves on.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Offer:
    task_id: int
    kind: str  # Assignment.Kind: gold, exam, training


class Source(Protocol):
    name: str

    def offer(self, *, project, user, now) -> Offer | None:
        """A task to serve `user` before the queue, or None."""


_sources: list[Source] = []


def register(source: Source) -> None:
    """Add a source; sources are asked by their `priority` (lower first, default 100), then in the order
    they registered: an exam in progress (workforce) comes before the gold mix (qa)."""
    if all(existing.name != source.name for existing in _sources):
        _sources.append(source)
        _sources.sort(key=lambda s: getattr(s, "priority", 100))


def offers(*, project, user, now) -> Iterator[Offer]:
    for source in _sources:
        offer = source.offer(project=project, user=user, now=now)
        if offer is not None:
            yield offer
