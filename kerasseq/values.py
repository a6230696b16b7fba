"""The one rule turning a configuration value (often a CLI string) into a
bool, int, float or str, and the words it accepts for true, false, none."""

import math

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")
NONE_WORDS = ("", "none", "null")

_EXPECTED = {
    bool: "a boolean (true/false)",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def coerce(value, kind):
    """`value` as `kind` (``bool``, ``int``, ``float`` or ``str``).

    Strings are stripped and parsed (booleans from `TRUE_WORDS` /
    `FALSE_WORDS`, any case); values already of the kind pass (ints as
    floats too). Floats must be finite (no inf or nan).

    Raises:
        ValueError: `value` is not of `kind`; the message says what was
            expected, e.g. ``"an integer"``.
    """
    text = value.strip() if isinstance(value, str) else None
    result = None
    if kind is bool:
        if isinstance(value, bool):
            result = value
        elif text is not None and text.lower() in TRUE_WORDS + FALSE_WORDS:
            result = text.lower() in TRUE_WORDS
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            result = value
        elif text is not None:
            result = _parse(int, text)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            result = float(value)
        elif text is not None:
            result = _parse(float, text)
        if result is not None and not math.isfinite(result):
            raise ValueError("a finite number")
    elif kind is str:
        result = text
    else:
        raise TypeError(f"cannot coerce to {kind!r}")
    if result is None:
        raise ValueError(_EXPECTED[kind])
    return result


def _parse(kind, text):
    try:
        return kind(text)
    except ValueError:
        return None
