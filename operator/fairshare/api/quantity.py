"""Kubernetes quantities ("500m", "64Gi", "1e3", 8), read one way everywhere: kubernetes.utils.parse_quantity.

The value is an exact Decimal, so "1Ei", "1e308" or "99999999999999999999" are compared and bounded without
overflow; callers that need an int or a float check the range first (int() of "1e999999999" would build a
million-digit number).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

# The Kubernetes quantity grammar, as the CRDs' `pattern` states it. parse_quantity reads its number with Decimal(),
# which also takes " 1", "1_0", "inf" and "NaN": none of them is a quantity, so the grammar is checked first.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
MAX_QUANTITY_LENGTH = 64  # the CRD's maxLength, which also bounds the cost of its CEL rule
_GRAMMAR = re.compile(QUANTITY_PATTERN)


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity, or not one the caller can use; the message says which."""


def parse_quantity(raw: object) -> Decimal:
    """The value of a Kubernetes quantity in base units (exact); QuantityError when `raw` is not one.

    Takes what a JSON body holds: a string, an integer, or a finite float (never a bool)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise QuantityError(f"{raw!r} is not a Kubernetes quantity (a string such as \"8\", \"500m\" or \"64Gi\")")
    if isinstance(raw, float) and not math.isfinite(raw):
        raise QuantityError(f"{raw!r} is not a Kubernetes quantity (not a finite number)")
    text = str(raw)
    if len(text) > MAX_QUANTITY_LENGTH or not _GRAMMAR.match(text):
        raise QuantityError(f"{_shown(text)} is not a Kubernetes quantity (such as \"8\", \"500m\" or \"64Gi\")")
    # Imported here: the kubernetes package imports its whole client (~0.5 s), which the CLI's views never need.
    from kubernetes.utils import parse_quantity as _kubernetes_parse_quantity

    try:
        return Decimal(_kubernetes_parse_quantity(text))
    except (ValueError, ArithmeticError) as err:
        raise QuantityError(f"{_shown(text)} is not a Kubernetes quantity: {err}") from None


def whole_count(raw: object, limit: int) -> int:
    """A whole, non-negative quantity of at most `limit` (a count of GPUs) as an int; QuantityError otherwise.
    The bound is checked on the Decimal, before int(), so no value can cost more than a comparison."""
    value = parse_quantity(raw)
    if value < 0:
        raise QuantityError(f"{_shown(str(raw))} is negative")
    if value != value.to_integral_value():
        raise QuantityError(f"{_shown(str(raw))} is not a whole number")
    if value > limit:
        raise QuantityError(f"{_shown(str(raw))} is more than {limit}")
    return int(value)


def _shown(text: str) -> str:
    """The value as a message quotes it: at most 64 characters, so a hostile one cannot flood a condition."""
    return repr(text if len(text) <= MAX_QUANTITY_LENGTH else text[:MAX_QUANTITY_LENGTH] + "...")
