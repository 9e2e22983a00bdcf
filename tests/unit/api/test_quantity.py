"""One quantity parser for every quantity the operator reads: kubernetes.utils.parse_quantity behind the grammar."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fairshare.api.quantity import QuantityError, parse_quantity, whole_count


@pytest.mark.parametrize(("raw", "value"), [
    pytest.param("8", Decimal(8), id="plain integer"),
    pytest.param(8, Decimal(8), id="integer"),
    pytest.param("500m", Decimal("0.5"), id="milli"),
    pytest.param("64Gi", Decimal(64 * 2**30), id="binary suffix"),
    pytest.param("1T", Decimal(10**12), id="decimal suffix"),
    pytest.param("1e3", Decimal(1000), id="exponent"),
    pytest.param("1E", Decimal(10**18), id="exa, not an exponent"),
    pytest.param(".5Ki", Decimal(512), id="leading dot"),
    pytest.param("-1Gi", Decimal(-(2**30)), id="negative"),
    pytest.param("1Ei", Decimal(2**60), id="exbi: once read as the exponent 'E' followed by 'i'"),
    pytest.param("1e308", Decimal("1e308"), id="beyond what a count can be, exact"),
    pytest.param("1e999999999", Decimal("1e999999999"), id="beyond a float, exact"),
    pytest.param("99999999999999999999", Decimal("99999999999999999999"), id="beyond an int64"),
    pytest.param("0.0000001", Decimal("1e-7"), id="tiny"),
    pytest.param(".5e-3", Decimal("0.0005"), id="dot and negative exponent"),
    pytest.param("+1.5", Decimal("1.5"), id="explicit sign"),
    pytest.param(0.5, Decimal("0.5"), id="a finite float"),
])
def test_quantities_are_read_exactly(raw: object, value: Decimal) -> None:
    assert parse_quantity(raw) == value


@pytest.mark.parametrize("raw", [
    pytest.param("lots", id="a word"), pytest.param("", id="empty"), pytest.param(" 1", id="leading space"),
    pytest.param("1_000", id="underscore (Decimal takes it, Kubernetes does not)"),
    pytest.param("inf", id="infinity"), pytest.param("NaN", id="not a number"), pytest.param("1ki", id="lower-case ki"),
    pytest.param("1e", id="exponent without digits"), pytest.param("1e1.5", id="fractional exponent"),
    pytest.param("1" * 65, id="longer than the CRDs allow"), pytest.param(True, id="a boolean"),
    pytest.param(None, id="null"), pytest.param([8], id="a list"), pytest.param(float("nan"), id="float NaN"),
    pytest.param(float("inf"), id="float infinity"),
])
def test_what_is_not_a_quantity_raises_quantity_error(raw: object) -> None:
    with pytest.raises(QuantityError, match="not a Kubernetes quantity"):
        parse_quantity(raw)


@pytest.mark.parametrize(("raw", "count"), [
    ("8", 8), ("1k", 1000), ("2Ki", 2048), ("1e3", 1000), ("0", 0), ("-0", 0), (16, 16), ("4096", 4096),
])
def test_whole_counts(raw: object, count: int) -> None:
    assert whole_count(raw, 4096) == count


@pytest.mark.parametrize(("raw", "words"), [
    ("-1", "negative"), ("1.5", "not a whole number"), ("500m", "not a whole number"),
    ("0.0000001", "not a whole number"), ("4097", "more than 4096"), ("1Ei", "more than 4096"),
    ("1e999999999", "more than 4096"), ("99999999999999999999", "more than 4096"), ("x", "not a Kubernetes quantity"),
])
def test_counts_out_of_range_raise_naming_the_value(raw: object, words: str) -> None:
    with pytest.raises(QuantityError, match=words):
        whole_count(raw, 4096)
