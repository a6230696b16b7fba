"""kerasseq.values.coerce: the one string-to-value rule."""

import math

import pytest

from kerasseq.values import FALSE_WORDS, TRUE_WORDS, coerce


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        (" 12 ", int, 12),
        (7, int, 7),
        ("0.25", float, 0.25),
        (3, float, 3.0),
        (" mean ", str, "mean"),
        (False, bool, False),
        *[(word.upper(), bool, True) for word in TRUE_WORDS],
        *[(f" {word} ", bool, False) for word in FALSE_WORDS],
    ],
)
def test_coerces(value, kind, expected):
    result = coerce(value, kind)
    assert result == expected and type(result) is kind


@pytest.mark.parametrize(
    "value, kind, expected",
    [
        ("2.5", int, "an integer"),
        (2.5, int, "an integer"),
        (True, int, "an integer"),
        ("many", float, "a number"),
        (True, float, "a number"),
        (math.inf, float, "a finite number"),
        ("nan", float, "a finite number"),
        ("-1e999", float, "a finite number"),
        ("maybe", bool, "a boolean"),
        (1, bool, "a boolean"),
        (3, str, "a string"),
        (None, str, "a string"),
    ],
)
def test_refuses_with_what_was_expected(value, kind, expected):
    with pytest.raises(ValueError, match=expected):
        coerce(value, kind)
