"""Inter-annotator agreement on categorical labels: Cohen's and Fleiss' kappa, Krippendorff's alpha, pair counts.

Chance-corrected coefficients are undefined when every rating falls in one category (expected
disagreement is zero). Here they return 1.0 in that case: the raters agreed on everything, and a
dashboard showing "perfect" is closer to the truth than a blank. Callers that need the distinction can
check for a single category themselves.
"""

from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import ArrayLike


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """Cohen's kappa of two raters' labels on the same items (`a[i]` and `b[i]` rate item i).

    1.0 when both raters gave one and the same label throughout (undefined otherwise: see the module).
    """
    if len(a) != len(b):
        raise ValueError(f"the raters rated different numbers of items ({len(a)} and {len(b)})")
    if not len(a):
        raise ValueError("no items to compare")
    codes = _codes([*a, *b])
    first, second = codes[: len(a)], codes[len(a) :]
    n_categories = int(codes.max()) + 1
    observed = float(np.mean(first == second))
    expected = float(np.dot(np.bincount(first, minlength=n_categories), np.bincount(second, minlength=n_categories)))
    expected /= len(a) ** 2
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: ArrayLike) -> float:
    """Fleiss' kappa from an items × categories matrix of rating counts.

    Items may have different numbers of raters: each item's agreement P_i = Σ n_ij (n_ij − 1) /
    (n_i (n_i − 1)) is averaged with equal weight per item, and the chance agreement P_e = Σ p_j² uses
    the category shares p_j pooled over all ratings. With a constant number of raters this is exactly
    Fleiss (1971). Items with fewer than two ratings carry no agreement information and are dropped.
    """
    matrix = np.asarray(counts, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("counts must be an items × categories matrix")
    if (matrix < 0).any():
        raise ValueError("counts must be non-negative")
    raters = matrix.sum(axis=1)
    matrix, raters = matrix[raters >= 2], raters[raters >= 2]
    if not raters.size:
        raise ValueError("no item has two or more ratings")
    per_item = ((matrix * (matrix - 1)).sum(axis=1) / (raters * (raters - 1))).mean()
    shares = matrix.sum(axis=0) / raters.sum()
    expected = float(np.dot(shares, shares))
    if expected >= 1.0:
        return 1.0
    return float((per_item - expected) / (1.0 - expected))


def krippendorff_alpha_nominal(units: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha for nominal data; `units[u]` lists the labels raters gave unit u.

    Missing ratings may be None (or NaN) or simply left out. Units with fewer than two values are not
    pairable and are ignored; None when no unit is pairable. 1.0 when all pairable values are equal.
    """
    unit_of: list[int] = []
    values: list[Hashable] = []
    for index, unit in enumerate(units):
        for value in unit:
            if value is None or (isinstance(value, float) and value != value):  # NaN marks missing too
                continue
            unit_of.append(index)
            values.append(value)
    if not values:
        return None
    codes = _codes(values)
    counts = np.zeros((len(units), int(codes.max()) + 1))
    np.add.at(counts, (np.asarray(unit_of), codes), 1.0)
    return alpha_nominal_from_counts(counts)


def alpha_nominal_from_counts(counts: ArrayLike) -> float | None:
    """Krippendorff's nominal alpha from a units × categories matrix of value counts (see above)."""
    matrix = np.asarray(counts, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("counts must be a units × categories matrix")
    pairable = matrix.sum(axis=1)
    matrix, pairable = matrix[pairable >= 2], pairable[pairable >= 2]
    if not pairable.size:
        return None
    # Coincidence matrix: o[c, k] sums, over units, the ordered pairs of values (c, k) from different
    # raters, each unit's pairs weighted 1 / (m_u − 1) so that every value contributes exactly one.
    weighted = matrix / (pairable - 1.0)[:, None]
    coincidences = weighted.T @ matrix - np.diag(weighted.sum(axis=0))
    marginals = coincidences.sum(axis=1)
    total = float(marginals.sum())
    expected_disagreement = total * total - float(np.dot(marginals, marginals))
    if expected_disagreement <= 0.0:
        return 1.0
    return 1.0 - (total - 1.0) * (total - float(np.trace(coincidences))) / expected_disagreement


def task_agreement(labels: Sequence[Hashable]) -> float | None:
    """Share of agreeing pairs among one task's labels (None with fewer than two labels)."""
    if len(labels) < 2:
        return None
    counts = np.bincount(_codes(labels))
    n = len(labels)
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))


def confusion_matrix(tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, *, n_labels: int) -> np.ndarray:
    """n_labels × n_labels counts of label pairs given to one task by two different annotators.

    Every ordered pair of different annotators on the same task adds one to [label_i, label_j], so the
    matrix is symmetric and its diagonal holds the agreeing pairs. An annotator's repeated answers to a
    task count once (the last one), since pairing an annotator with itself is not agreement.
    """
    task, _, label = _latest_answers(tasks, workers, labels)
    if label.size and (label.min() < 0 or label.max() >= n_labels):
        raise ValueError(f"labels has an index outside [0, {n_labels})")
    _, task_index = np.unique(task, return_inverse=True)
    counts = np.zeros((int(task_index.max(initial=-1)) + 1, n_labels))
    np.add.at(counts, (task_index, label), 1.0)
    # Σ_t n_t n_tᵀ counts all ordered pairs of answers, including each answer with itself: remove those.
    return counts.T @ counts - np.diag(counts.sum(axis=0))


def reliability_data(
    tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, *, n_tasks: int, n_labels: int
) -> tuple[np.ndarray, list[list[int]]]:
    """The answers as Fleiss counts (n_tasks × n_labels) and as Krippendorff units (labels per task).

    One value per (task, annotator): an annotator's repeated answers count once, the last one wins.
    """
    task, _, label = _latest_answers(tasks, workers, labels)
    if task.size and (task.min() < 0 or task.max() >= n_tasks):
        raise ValueError(f"tasks has an index outside [0, {n_tasks})")
    if label.size and (label.min() < 0 or label.max() >= n_labels):
        raise ValueError(f"labels has an index outside [0, {n_labels})")
    counts = np.bincount(task * n_labels + label, minlength=n_tasks * n_labels).reshape(n_tasks, n_labels)
    order = np.argsort(task, kind="stable")
    bounds = np.searchsorted(task[order], np.arange(n_tasks + 1))
    sorted_labels = label[order].tolist()
    units = [sorted_labels[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
    return counts, units


def _latest_answers(
    tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    task, worker, label = (np.asarray(values, dtype=np.int64) for values in (tasks, workers, labels))
    if not task.shape == worker.shape == label.shape or task.ndim != 1:
        raise ValueError("tasks, workers and labels must be one-dimensional and of the same length")
    if not task.size:
        return task, worker, label
    if task.min() < 0 or worker.min() < 0:
        raise ValueError("tasks and workers must be non-negative indices")
    # Last occurrence of each (task, worker): unique over the reversed keys finds first occurrences.
    pair = task * (int(worker.max()) + 1) + worker
    _, first_reversed = np.unique(pair[::-1], return_index=True)
    keep = np.sort(task.size - 1 - first_reversed)
    return task[keep], worker[keep], label[keep]


def _codes(values: Sequence[Hashable]) -> np.ndarray:
    """0-based codes for arbitrary hashable labels (by equality, so labels need not be sortable)."""
    index: dict[Hashable, int] = {}
    return np.fromiter((index.setdefault(value, len(index)) for value in values), dtype=np.int64, count=len(values))
