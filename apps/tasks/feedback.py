"""The `tasks.feedback` registry (DESIGN §3): what a submit's answer tells the annotator beyond the annotation.

qa plugs in gold feedback (the right answer after a gold submission, where the project shows it). A provider
returns a dict of fields to add to the submit response, or None. It runs after the submit (also for a
replayed one, which must answer the same), so it reads what the `annotation_submitted` receivers stored.
"""

from typing import Protocol


class Provider(Protocol):
    name: str

    def for_submit(self, *, annotation, assignment) -> dict | None:
        """Fields for the submit response of `annotation` (made from `assignment`), or None."""


_providers: list[Provider] = []


def register(provider: Provider) -> None:
    if all(existing.name != provider.name for existing in _providers):
        _providers.append(provider)


def for_submit(*, annotation, assignment) -> dict:
    extra: dict = {}
    for provider in _providers:
        found = provider.for_submit(annotation=annotation, assignment=assignment)
        if found:
            extra.update(found)
    return extra
