"""Agreement coefficients against published worked examples and independent implementations."""

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from apps.qa.agreement import (
    alpha_nominal_from_counts,
    cohen_kappa,
    confusion_matrix,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    reliability_data,
    task_agreement,
)

from .crowd_data import bluebirds

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa" page: 10 subjects, 14 raters, 5 categories.
FLEISS_EXAMPLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers × 12 units,
# None where an observer gave no value; nominal alpha = 0.743.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def by_unit(raters: list[list]) -> list[list]:
    return [list(unit) for unit in zip(*raters, strict=True)]


def oracle_alpha(raters: list[list]) -> float:
    data = np.array([[np.nan if value is None else value for value in row] for row in raters], dtype=float)
    return krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")


def random_ratings(seed: int, n_raters: int, n_items: int, n_labels: int, missing: float = 0.0) -> list[list]:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, size=n_items)
    ratings = np.where(rng.random((n_raters, n_items)) < 0.6, truth, rng.integers(0, n_labels, (n_raters, n_items)))
    absent = rng.random((n_raters, n_items)) < missing
    return [[None if absent[r, i] else int(ratings[r, i]) for i in range(n_items)] for r in range(n_raters)]


def test_cohen_kappa_textbook_example():
    # Wikipedia "Cohen's kappa": 50 proposals, 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no → κ = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_sklearn(seed):
    a, b = random_ratings(seed, n_raters=2, n_items=200, n_labels=2 + seed)
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_kappa_matches_sklearn_on_bluebirds_worker_pairs():
    data = bluebirds()
    ratings = np.full((data.n_workers, data.n_tasks), -1)
    ratings[data.workers, data.tasks] = data.labels
    for first, second in [(0, 1), (2, 17), (5, 38)]:
        expected = cohen_kappa_score(ratings[first], ratings[second])
        assert cohen_kappa(ratings[first].tolist(), ratings[second].tolist()) == pytest.approx(expected, abs=1e-12)


def test_cohen_kappa_undefined_cases():
    assert cohen_kappa(["a"] * 5, ["a"] * 5) == 1.0  # both constant and equal: perfect agreement
    assert cohen_kappa(["a"] * 5, ["b"] * 5) == 0.0  # both constant, never agreeing: chance level
    assert cohen_kappa([1, 2, 1, 2], [2, 1, 2, 1]) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError):
        cohen_kappa([], [])


def test_fleiss_kappa_published_example():
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=5e-5)


def test_fleiss_kappa_on_bluebirds_matches_krippendorff_identity():
    # With every worker rating every task (m raters, n = N·m values), 1 − α = (n − 1) / n · (1 − κ):
    # the krippendorff package therefore gives an independent value of Fleiss' kappa.
    data = bluebirds()
    counts, _ = reliability_data(data.tasks, data.workers, data.labels, n_tasks=data.n_tasks, n_labels=2)
    assert set(counts.sum(axis=1).tolist()) == {data.n_workers}
    ratings = np.full((data.n_workers, data.n_tasks), np.nan)
    ratings[data.workers, data.tasks] = data.labels
    alpha = krippendorff.alpha(reliability_data=ratings, level_of_measurement="nominal")
    n = counts.sum()
    assert fleiss_kappa(counts) == pytest.approx(1 - (1 - alpha) * n / (n - 1), abs=1e-12)


def test_fleiss_kappa_with_varying_raters():
    counts = np.array([[3, 0], [1, 1], [2, 2], [0, 4], [1, 0]])  # the last item has one rating: ignored
    per_item = np.mean([1.0, 0.0, 4 / 12, 1.0])
    shares = np.array([6, 7]) / 13
    expected = (per_item - shares @ shares) / (1 - shares @ shares)
    assert fleiss_kappa(counts) == pytest.approx(expected)
    assert fleiss_kappa(counts[:4]) == pytest.approx(expected)
    assert fleiss_kappa([[2, 0], [3, 0]]) == 1.0  # one category only
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 0], [0, 1]])


def test_krippendorff_alpha_published_example():
    alpha = krippendorff_alpha_nominal(by_unit(KRIPPENDORFF_EXAMPLE))
    assert alpha == pytest.approx(0.743, abs=5e-4)
    assert alpha == pytest.approx(oracle_alpha(KRIPPENDORFF_EXAMPLE), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_krippendorff_alpha_matches_package_with_missing_values(seed):
    raters = random_ratings(seed, n_raters=3 + seed, n_items=150, n_labels=4, missing=0.3)
    assert krippendorff_alpha_nominal(by_unit(raters)) == pytest.approx(oracle_alpha(raters), abs=1e-12)


def test_krippendorff_alpha_on_bluebirds_matches_package():
    data = bluebirds()
    counts, units = reliability_data(data.tasks, data.workers, data.labels, n_tasks=data.n_tasks, n_labels=2)
    ratings = np.full((data.n_workers, data.n_tasks), np.nan)
    ratings[data.workers, data.tasks] = data.labels
    expected = krippendorff.alpha(reliability_data=ratings, level_of_measurement="nominal")
    assert krippendorff_alpha_nominal(units) == pytest.approx(expected, abs=1e-12)
    assert alpha_nominal_from_counts(counts) == pytest.approx(expected, abs=1e-12)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha_nominal([]) is None
    assert krippendorff_alpha_nominal([["a"], [None, "b"], [None, None]]) is None  # nothing pairable
    assert krippendorff_alpha_nominal([["a", "a"], ["a", "a", None]]) == 1.0
    # NaN counts as missing, and labels need not be sortable together
    assert krippendorff_alpha_nominal([["x", 1, float("nan")], ["x", 1]]) == krippendorff_alpha_nominal(
        [["x", 1], ["x", 1]]
    )


def test_task_agreement():
    assert task_agreement(["cat", "cat", "dog"]) == pytest.approx(1 / 3)
    assert task_agreement(["cat", "cat"]) == 1.0
    assert task_agreement([1, 2, 3]) == 0.0
    assert task_agreement(["cat"]) is None
    assert task_agreement([]) is None


def test_confusion_matrix_counts_ordered_pairs_of_different_annotators():
    # task 0: A=0, B=0, C=1; task 1: A=1, B=2; worker A answers task 1 twice, only the last (2) counts.
    tasks = [0, 0, 0, 1, 1, 1]
    workers = [0, 1, 2, 0, 0, 1]
    labels = [0, 0, 1, 1, 2, 2]
    expected = np.array([[2, 2, 0], [2, 0, 0], [0, 0, 2]])
    matrix = confusion_matrix(tasks, workers, labels, n_labels=3)
    assert matrix.tolist() == expected.tolist()


def test_confusion_matrix_on_bluebirds_agrees_with_pair_agreement():
    data = bluebirds()
    matrix = confusion_matrix(data.tasks, data.workers, data.labels, n_labels=2)
    assert np.array_equal(matrix, matrix.T)
    m = data.n_workers
    assert matrix.sum() == data.n_tasks * m * (m - 1)
    _, units = reliability_data(data.tasks, data.workers, data.labels, n_tasks=data.n_tasks, n_labels=2)
    mean_agreement = np.mean([task_agreement(unit) for unit in units])
    assert np.trace(matrix) / matrix.sum() == pytest.approx(mean_agreement)


def test_reliability_data_counts_and_units():
    tasks = [2, 0, 0, 2, 2]
    workers = [0, 0, 1, 1, 1]  # worker 1 answers task 2 twice: its last answer (0) counts
    labels = [1, 1, 0, 1, 0]
    counts, units = reliability_data(tasks, workers, labels, n_tasks=4, n_labels=2)
    assert counts.tolist() == [[1, 1], [0, 0], [1, 1], [0, 0]]
    assert [sorted(unit) for unit in units] == [[0, 1], [], [0, 1], []]
    assert fleiss_kappa(counts) == pytest.approx(-1.0)
