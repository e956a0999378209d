"""The `projects.schema_guard` registry (DESIGN §3).

Apps that store labels (tasks: annotations, predictions, gold answers) register a holder from their
AppConfig.ready(), so that a schema change can refuse to orphan labels and remap everything in the
same transaction, without `projects` importing them.
"""

from typing import Protocol


class LabelHolder(Protocol):
    name: str

    def labels_in_use(self, *, project) -> dict[str, set[str]]:
        """Label values in use per control name."""

    def apply_remap(self, *, project, remap: dict, new_version, actor) -> int:
        """Rewrite stored results with `remap` under `new_version`; returns how many were rewritten."""


_holders: list[LabelHolder] = []


def register(holder: LabelHolder) -> None:
    if all(existing.name != holder.name for existing in _holders):
        _holders.append(holder)


def labels_in_use(*, project) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for holder in _holders:
        for control, labels in holder.labels_in_use(project=project).items():
            used.setdefault(control, set()).update(labels)
    return used


def apply_remap(*, project, remap: dict, new_version, actor) -> dict[str, int]:
    return {
        holder.name: holder.apply_remap(project=project, remap=remap, new_version=new_version, actor=actor)
        for holder in _holders
    }
