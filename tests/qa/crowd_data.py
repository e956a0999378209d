"""Loaders for the real crowd data sets with ground truth in ../shared/data/crowd (see its README)."""

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# tests/qa/<module>.py → parents[2] is the repository; the shared directory sits beside it (also in CI).
CROWD_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "crowd"
DUCK_SPECIES = (0, 2)  # Mallard, American Black Duck: the images whose true answer is "duck" (label 1)


@dataclass(frozen=True)
class CrowdData:
    tasks: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    truth: np.ndarray  # true label per task index
    n_tasks: int
    n_workers: int
    n_labels: int

    @property
    def sizes(self) -> dict[str, int]:
        """The keyword arguments the consensus functions take besides the answers."""
        return {"n_tasks": self.n_tasks, "n_workers": self.n_workers, "n_labels": self.n_labels}


def _require(name: str) -> Path:
    path = CROWD_DIR / name
    if not path.exists():
        pytest.skip(f"crowd data not found: {path} (the shared data directory sits beside the repository)")
    return path


def bluebirds() -> CrowdData:
    """Bluebirds: 108 images × 39 workers, label 1 = Indigo Bunting; ids mapped to 0-based indices."""
    answers = np.loadtxt(_require("bluebirds-answers.csv"), delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    gold = np.loadtxt(_require("bluebirds-gold.csv"), delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    task_ids, tasks = np.unique(answers[:, 0], return_inverse=True)
    worker_ids, workers = np.unique(answers[:, 1], return_inverse=True)
    truth_by_id = dict(zip(gold[:, 0].tolist(), gold[:, 1].tolist(), strict=True))
    truth = np.array([truth_by_id[task_id] for task_id in task_ids.tolist()])
    return CrowdData(tasks, workers, answers[:, 2], truth, task_ids.size, worker_ids.size, 2)


def ducks() -> CrowdData:
    """Ducks: 240 images × 53 workers, label 1 = "there is a duck" (truth from the species)."""
    lines = _require("ducks-labels.txt").read_text().split("\n", 1)
    # The header's third number is the number of answer lines, not of labels: the answers are 0/1.
    n_tasks, n_workers, n_answers = (int(field) for field in lines[0].split())
    answers = np.loadtxt(lines[1].splitlines(), dtype=np.int64, ndmin=2)
    if answers.shape != (n_answers, 3):
        raise ValueError(f"ducks-labels.txt: expected {n_answers} answer lines, got {answers.shape}")
    species = _species_by_image(_require("ducks-classes.yaml").read_text())
    truth = np.isin(np.array([species[image] for image in range(n_tasks)]), DUCK_SPECIES).astype(np.int64)
    return CrowdData(answers[:, 0], answers[:, 1], answers[:, 2], truth, n_tasks, n_workers, 2)


def _species_by_image(text: str) -> dict[int, int]:
    try:
        import yaml
    except ImportError:  # PyYAML is a test-time convenience only; the file is one flow mapping
        block = text.split("labels:", 1)[1].split("}", 1)[0]
        return {int(image): int(species) for image, species in re.findall(r"(\d+)\s*:\s*(\d+)", block)}
    return {int(image): int(species) for image, species in yaml.safe_load(text)["labels"].items()}
