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


@pytest.mark.parametrize(
    ("weights", "usages", "want"),
    [
        pytest.param([1, 1], [0, 0], [1, 1], id="no usage, no discount"),
        pytest.param([1, 1], [10, 0], [0.25, 1], id="all recent usage at half the weight: 2^-2"),
        pytest.param([1, 1], [5, 5], [0.5, 0.5], id="usage in proportion to weight halves everyone alike"),
        pytest.param([3, 1], [3, 1], [1.5, 0.5], id="proportional usage keeps the ratio of weights"),
    ],
)
def test_usage_discounted_weights(weights: list[float], usages: list[float], want: list[float]) -> None:
    assert usage_discounted_weights(weights, usages) == pytest.approx(want)


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
