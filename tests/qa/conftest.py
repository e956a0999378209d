"""Fixtures of the quality-control tests."""

import random

import pytest

from apps.qa.gold import GoldSource
from apps.tasks import sources


@pytest.fixture
def gold_seed() -> int:
    """The seed of the gold mix; a module overrides it to keep the draws its assertions were written for."""
    return 7


@pytest.fixture
def gold_source(monkeypatch, gold_seed):
    """The registered gold source with a seeded random generator, so the mix is the same every run."""
    source = next(s for s in sources._sources if isinstance(s, GoldSource))
    monkeypatch.setattr(source, "rng", random.Random(gold_seed))
    return source
