"""Categorical consensus over crowd answers: (weighted) majority vote and Dawid-Skene EM.

Answers come as three parallel integer arrays (`tasks`, `workers`, `labels`, 0-based indices), so a
project's answers can be loaded with one `values_list` and no Python object per answer. Everything is
vectorized over the answers; Dawid-Skene loops only over EM iterations.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

# Float vote sums of the same weights can differ in the last bits depending on summation order.
_TIE_RTOL = 1e-9
# Dawid-Skene: top two posteriors closer than this count as a tie.
_POSTERIOR_TIE = 1e-9


@dataclass(frozen=True, eq=False)
class Consensus:
    """Consensus per task, and for Dawid-Skene the per-worker model it was computed with."""

    labels: np.ndarray  # (n_tasks,) int64; -1 for a task without votes (majority vote only)
    confidence: np.ndarray  # (n_tasks,) float64: winning vote share / posterior of the winner
    posteriors: np.ndarray  # (n_tasks, n_labels) float64: vote shares / class posteriors
    tied: np.ndarray  # (n_tasks,) bool: the winner was picked by lowest label index
    worker_confusion: np.ndarray | None = None  # (n_workers, L, L): [true label, answered label]
    worker_accuracy: np.ndarray | None = None  # (n_workers,) expected share of correct answers
    class_prior: np.ndarray | None = None  # (n_labels,) estimated share of each true label
    iterations: int = 0  # EM rounds run (0 for majority vote)


def majority_vote(
    tasks: ArrayLike,
    workers: ArrayLike,
    labels: ArrayLike,
    *,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    worker_weights: ArrayLike | None = None,
    tie_weights: ArrayLike | None = None,
) -> Consensus:
    """Most (weighted) votes per task; ties go to the label whose voters have the larger summed tie weight.

    `worker_weights` (n_workers, ≥ 0) weight each worker's vote; `tie_weights` (n_workers, e.g. gold
    accuracy) only break ties. A tie that survives both is flagged in `tied` and resolved to the lowest
    label index, so the result is deterministic. A task with no (non-zero) votes gets label -1,
    confidence 0 and an all-zero posterior row.
    """
    task, worker, label = _answers(tasks, workers, labels, n_tasks, n_workers, n_labels)
    cell = task * n_labels + label
    size = n_tasks * n_labels
    weights = None if worker_weights is None else _per_worker(worker_weights, n_workers, "worker_weights")[worker]
    votes = np.bincount(cell, weights=weights, minlength=size).reshape(n_tasks, n_labels).astype(np.float64)
    total = votes.sum(axis=1)
    top = votes.max(axis=1, initial=0.0)
    candidates = votes >= top[:, None] * (1.0 - _TIE_RTOL)
    if tie_weights is not None:
        tie_weight = _per_worker(tie_weights, n_workers, "tie_weights")[worker]
        score = np.bincount(cell, weights=tie_weight, minlength=size).reshape(n_tasks, n_labels)
        score = np.where(candidates, score, -np.inf)
        best = score.max(axis=1, initial=-np.inf)
        candidates &= score >= best[:, None] - np.abs(best[:, None]) * _TIE_RTOL
    winner = np.argmax(candidates, axis=1)  # first True: the lowest tied label index
    voted = total > 0
    rows = np.arange(n_tasks)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(voted[:, None], votes / total[:, None], 0.0)
    return Consensus(
        labels=np.where(voted, winner, -1).astype(np.int64),
        confidence=shares[rows, winner],
        posteriors=shares,
        tied=voted & (candidates.sum(axis=1) > 1),
    )


def dawid_skene(
    tasks: ArrayLike,
    workers: ArrayLike,
    labels: ArrayLike,
    *,
    n_tasks: int,
    n_workers: int,
    n_labels: int,
    gold: dict[int, int] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    alpha: float = 1.0,
    init: Literal["majority", "gold"] | None = None,
) -> Consensus:
    """Dawid & Skene (1979): EM over a confusion matrix per worker and the class priors.

    `gold` (task → true label) is observed truth: those tasks' posteriors are one-hot in every E-step.
    `init="gold"` (the default when gold is given) seeds the confusion matrices and priors from the
    answers on gold tasks alone; `init="majority"` (the default otherwise) starts from the vote shares.
    `alpha` is a Dirichlet pseudo-count added to every confusion row: `alpha` on the diagonal and
    `alpha / n_labels` on each off-diagonal cell. A worker with few answers is thus presumed better than
    chance (prior accuracy 2/3 with two labels, 5/9 with five), and no cell is ever zero, so a label
    nobody (or one worker never) used is improbable but not impossible. Class priors get one
    pseudo-count per label. EM stops when no posterior moves by more than `tol`, or after `max_iter`
    rounds. A task without answers gets the class prior (or its gold label).
    """
    task, worker, label = _answers(tasks, workers, labels, n_tasks, n_workers, n_labels)
    if alpha <= 0:
        raise ValueError("alpha must be positive: a zero confusion cell would rule a label out for good")
    if max_iter < 1:
        raise ValueError("max_iter must be at least 1")
    gold_tasks, gold_labels = _gold(gold, n_tasks, n_labels)
    if init is None:
        init = "gold" if gold_tasks.size else "majority"
    if init == "gold" and not gold_tasks.size:
        raise ValueError('init="gold" needs gold answers')
    if init not in ("majority", "gold"):
        raise ValueError(f"unknown init {init!r}")

    n_cols = n_workers * n_labels
    # answers[t, w·L + l] = how often worker w answered l on task t. Both EM steps are then one
    # sparse × dense product: no (n_answers × n_labels) temporary at all.
    answers = sp.csr_matrix(
        (np.ones(task.size), (task, worker * n_labels + label)), shape=(n_tasks, n_cols), dtype=np.float64
    )
    answers_by_worker = answers.T.tocsr()
    gold_onehot = np.zeros((gold_tasks.size, n_labels))
    gold_onehot[np.arange(gold_tasks.size), gold_labels] = 1.0
    pseudo = np.full((n_labels, n_labels), alpha / n_labels)
    np.fill_diagonal(pseudo, alpha)

    def m_step(posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # expected[w·L + l, k]: expected number of times worker w answered l when the truth was k
        expected = answers_by_worker @ posteriors
        confusion = expected.reshape(n_workers, n_labels, n_labels).transpose(0, 2, 1) + pseudo
        confusion /= confusion.sum(axis=2, keepdims=True)
        class_mass = posteriors.sum(axis=0)
        prior = (class_mass + 1.0) / (class_mass.sum() + n_labels)
        return confusion, prior

    def e_step(confusion: np.ndarray, prior: np.ndarray) -> np.ndarray:
        log_confusion = np.log(confusion).transpose(0, 2, 1).reshape(n_cols, n_labels)
        log_joint = answers @ log_confusion + np.log(prior)
        log_joint -= log_joint.max(axis=1, keepdims=True)
        posteriors = np.exp(log_joint)
        posteriors /= posteriors.sum(axis=1, keepdims=True)
        posteriors[gold_tasks] = gold_onehot
        return posteriors

    if init == "gold":
        # Only gold rows are non-zero, so the first M-step sees exactly the answers on gold tasks.
        posteriors = np.zeros((n_tasks, n_labels))
        posteriors[gold_tasks] = gold_onehot
    else:
        votes = np.bincount(task * n_labels + label, minlength=n_tasks * n_labels).reshape(n_tasks, n_labels)
        total = votes.sum(axis=1, keepdims=True)
        posteriors = np.divide(votes, total, out=np.zeros((n_tasks, n_labels)), where=total > 0)
        posteriors[gold_tasks] = gold_onehot

    iterations, change = 0, np.inf
    while iterations < max_iter and change >= tol:
        confusion, prior = m_step(posteriors)
        updated = e_step(confusion, prior)
        change = float(np.abs(updated - posteriors).max(initial=0.0))
        posteriors = updated
        iterations += 1

    return Consensus(
        labels=np.argmax(posteriors, axis=1).astype(np.int64),
        confidence=posteriors.max(axis=1, initial=0.0),
        posteriors=posteriors,
        tied=_top_two_tied(posteriors),
        worker_confusion=confusion,
        worker_accuracy=_expected_accuracy(answers_by_worker @ posteriors, confusion, prior, n_workers, n_labels),
        class_prior=prior,
        iterations=iterations,
    )


def _expected_accuracy(
    expected: np.ndarray, confusion: np.ndarray, prior: np.ndarray, n_workers: int, n_labels: int
) -> np.ndarray:
    """Posterior mass on the worker's own answer, averaged over its answers (model accuracy if it has none)."""
    per_worker = expected.reshape(n_workers, n_labels, n_labels)  # [worker, answered, true]
    answered = per_worker.sum(axis=(1, 2))
    correct = np.einsum("wll->w", per_worker)
    modelled = np.einsum("k,wkk->w", prior, confusion)
    return np.divide(correct, answered, out=modelled, where=answered > 0)


def _top_two_tied(posteriors: np.ndarray) -> np.ndarray:
    if posteriors.shape[1] < 2:
        return np.zeros(posteriors.shape[0], dtype=bool)
    top_two = np.partition(posteriors, -2, axis=1)[:, -2:]
    return (top_two[:, 1] - top_two[:, 0]) <= _POSTERIOR_TIE


def _answers(
    tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike, n_tasks: int, n_workers: int, n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The answer arrays as int64, checked for equal length and indices in range."""
    if min(n_tasks, n_workers, n_labels) < 0 or n_labels < 1:
        raise ValueError("n_tasks and n_workers must be >= 0 and n_labels >= 1")
    arrays = []
    for name, values, bound in (
        ("tasks", tasks, n_tasks),
        ("workers", workers, n_workers),
        ("labels", labels, n_labels),
    ):
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional")
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must hold integer indices, got {array.dtype}")
        array = array.astype(np.int64, copy=False)
        if array.size and (array.min() < 0 or array.max() >= bound):
            raise ValueError(f"{name} has an index outside [0, {bound})")
        arrays.append(array)
    if not arrays[0].size == arrays[1].size == arrays[2].size:
        raise ValueError("tasks, workers and labels must have the same length")
    return arrays[0], arrays[1], arrays[2]


def _per_worker(values: ArrayLike, n_workers: int, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n_workers,):
        raise ValueError(f"{name} must have one value per worker ({n_workers}), got shape {array.shape}")
    if not np.all(np.isfinite(array)) or (array < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return array


def _gold(gold: dict[int, int] | None, n_tasks: int, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    if not gold:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    gold_tasks = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
    gold_labels = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
    if gold_tasks.min() < 0 or gold_tasks.max() >= n_tasks:
        raise ValueError(f"gold has a task outside [0, {n_tasks})")
    if gold_labels.min() < 0 or gold_labels.max() >= n_labels:
        raise ValueError(f"gold has a label outside [0, {n_labels})")
    return gold_tasks, gold_labels
