"""Argument checks shared by the layers ("Expected ... Received ...")."""


def check_int(name, value, low, high=None):
    """Raises "Expected <name> to be an integer >= low [and <= high]"."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(
            f"Expected {name} to be an integer >= {low}{upper}. "
            f"Received: {name}={value!r}"
        )
