"""Water-filling, usage-discounted weights and entitlements, as tables of named cases."""

from __future__ import annotations

import math

import pytest

from fairshare.core.fairshare import Claim, entitlements, usage_discounted_weights, water_fill

INF = math.inf


@pytest.mark.parametrize(
    ("capacity", "weights", "caps", "want"),
    [
        pytest.param(12, [1, 2, 3], [INF, INF, INF], [2, 4, 6], id="water-filling with weights 1:2:3"),
        pytest.param(12, [1, 1, 1], [1, INF, INF], [1, 5.5, 5.5], id="a capped claimant's rest flows to the others"),
        pytest.param(12, [1, 1, 1], [1, 2, 3], [1, 2, 3], id="everyone capped leaves capacity over"),
        pytest.param(10, [1, 0, 1], [INF, INF, INF], [5, 0, 5], id="weight zero gets nothing"),
        pytest.param(0, [1, 1], [INF, INF], [0, 0], id="no capacity, nothing to share"),
        pytest.param(9, [2, 1], [4, INF], [4, 5], id="capped below its weighted level"),
        pytest.param(6, [1, 1, 1, 1], [0, 1, 10, 10], [0, 1, 2.5, 2.5], id="zero cap is no claim"),
    ],
)
def test_water_fill(capacity: float, weights: list[float], caps: list[float], want: list[float]) -> None:
    assert water_fill(capacity, weights, caps) == pytest.approx(want)


FULL = 100.0  # the cluster's capacity over one half-life, in GPU-hours (e.g. 4 GPUs x 25 h)
TINY = FULL * 1e-4  # e.g. 36 GPU-seconds on a 4-GPU cluster with a 25 h half-life


@pytest.mark.parametrize(
    ("weights", "usages", "full", "want"),
    [
        pytest.param([1, 1], [0, 0], FULL, [1, 1], id="no history, no discount"),
        pytest.param([1, 1], [10, 0], 0.0, [1, 1], id="no capacity, no discount"),
        pytest.param([1, 1], [TINY, 0], FULL, [2.0 ** (-1e-4 / 0.5), 1], id="a tiny history moves the weight by ~e"),
        pytest.param([1, 1], [FULL / 2, 0], FULL, [0.5, 1], id="half the cluster for a half-life at half the weight"),
        pytest.param([1, 1, 1], [FULL / math.log(2), 0, 0], FULL, [2.0 ** (-3 / math.log(2)), 1, 1],
                     id="one tenant holding the whole cluster for ever: strong, finite"),
        pytest.param([1, 1], [20, 20], FULL, [2.0 ** -0.4, 2.0 ** -0.4], id="equal use at equal weight: alike"),
        pytest.param([3, 1], [30, 10], FULL, [3 * 2.0 ** -0.4, 2.0 ** -0.4],
                     id="use in proportion to weight keeps the ratio of weights"),
        pytest.param([1, 0], [10, 10], FULL, [2.0 ** -0.1, 0], id="weight zero stays zero"),
    ],
)
def test_usage_discounted_weights(weights: list[float], usages: list[float], full: float, want: list[float]) -> None:
    assert usage_discounted_weights(weights, usages, full) == pytest.approx(want)


@pytest.mark.parametrize("history", [1e-6, 1e-4, 1e-2])
def test_a_small_history_moves_shares_by_about_its_fraction_of_the_cluster(history: float) -> None:
    """Three tenants of equal weight; one has used `history` of the cluster over one half-life. Its share of a
    fully contended cluster moves by about that fraction (ln 2 x e x (1 - s) to first order), not by a constant
    factor as when usage was read as a fraction of all usage."""
    weights = usage_discounted_weights([1, 1, 1], [history * FULL, 0, 0], FULL)
    share = weights[0] / sum(weights)
    assert 1 / 3 - share == pytest.approx(math.log(2) * history * (2 / 3), rel=0.05)
    assert 1 / 3 - share <= history


@pytest.mark.parametrize(
    ("capacity", "claims", "want"),
    [
        pytest.param(12, {"a": Claim(1, 0, INF, INF), "b": Claim(1, 0, INF, INF)}, {"a": 6, "b": 6},
                     id="equal weights, no guarantees"),
        pytest.param(12, {"a": Claim(1, 8, INF, INF), "b": Claim(1, 0, INF, INF)}, {"a": 10, "b": 2},
                     id="guarantee first, then an equal split of the rest"),
        pytest.param(12, {"a": Claim(1, 8, 3, INF), "b": Claim(1, 0, INF, INF)}, {"a": 3, "b": 9},
                     id="an unused guarantee is lent"),
        pytest.param(12, {"a": Claim(1, 0, INF, 4), "b": Claim(1, 0, INF, INF)}, {"a": 4, "b": 8},
                     id="a borrowing limit caps the share"),
        pytest.param(12, {"a": Claim(1, 10, INF, INF), "b": Claim(3, 10, INF, INF)}, {"a": 3, "b": 9},
                     id="oversubscribed guarantees are kept in proportion to weight"),
    ],
)
def test_entitlements(capacity: float, claims: dict[str, Claim], want: dict[str, float]) -> None:
    assert entitlements(capacity, claims) == pytest.approx(want)
