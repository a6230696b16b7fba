"""Model registry: builders and their declared hyper-parameters.

A builder is one decorated function; each hyper-parameter is declared
once, with its default and the values it may take::

    @register("lstm", "One-line description.", hparams={
        "units": HParam(64, low=1, search=(16, 512), log=True,
                        help="LSTM units per direction"),
        "pooling": HParam("last", choices=("last", "max")),
    })
    def _build_lstm(ids, vocab_size, num_classes, hp):
        ...  # returns the probabilities tensor

`resolve_hparams` checks every value against its declaration (type,
finite, range, choices) and the model's cross checks, so a layer only
ever sees checked values: a bad one is a `ConfigError` naming the key and
the model. Strings (from a CLI ``--set units=128``) are coerced to the
default's type by `kerasseq.values.coerce`. `hparam_specs` returns the
declarations, e.g. to build a tuner's search space.
"""

import dataclasses
from collections.abc import Callable

import keras

from kerasseq import values
from kerasseq.errors import ConfigError

_KINDS = (bool, int, float, str)


@dataclasses.dataclass(frozen=True)
class HParam:
    """One hyper-parameter: its default and the values it may take.

    The type is the default's (bool, int, float or str).

    Args:
        default: the value used when none is given.
        help: one line on what it does.
        low, high: inclusive numeric bounds (None: unbounded).
        low_open, high_open: make `low` / `high` exclusive.
        choices: the allowed strings.
        off: one more allowed number outside ``[low, high]`` that turns
            the feature off (e.g. 0).
        search: a suggested finite ``(low, high)`` range for tuning;
            required for a number whose valid range is unbounded.
        log: tune on a log scale (`search_bounds` then start above 0).
    """

    default: bool | int | float | str
    help: str = ""
    low: int | float | None = None
    high: int | float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    off: int | float | None = None
    search: tuple | None = None
    log: bool = False

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise TypeError(f"unsupported default {self.default!r}")
        if self.kind is str and not self.choices:
            raise TypeError(f"string default {self.default!r} needs choices")
        if self.is_number:
            bounds = self.search_bounds
            if None in bounds or not all(map(self.allows, bounds)):
                raise ValueError(
                    f"search bounds {bounds} must be finite allowed values"
                )
            if self.log and bounds[0] <= 0:
                raise ValueError(f"log search needs bounds > 0; {bounds}")
        if not self.allows(self.default):
            raise ValueError(f"default {self.default!r} is not allowed")

    @property
    def kind(self):
        """The type of the values: bool, int, float or str."""
        return type(self.default)

    @property
    def is_number(self):
        """True for int and float hyper-parameters."""
        return self.kind in (int, float)

    @property
    def search_bounds(self):
        """The finite ``(low, high)`` range suggested for tuning."""
        return self.search or (self.low, self.high)

    def allows(self, value):
        """Whether `value` (already of `kind`) is in range / a choice."""
        if self.choices:
            return value in self.choices
        if not self.is_number or value == self.off:
            return True
        return not (
            (self.low is not None and (
                value < self.low or (self.low_open and value == self.low)))
            or (self.high is not None and (
                value > self.high or (self.high_open and value == self.high)))
        )

    def describe_allowed(self):
        """The allowed values in words, e.g. ``"in [0.0, 1.0)"``."""
        if self.choices:
            return f"one of {', '.join(map(str, self.choices))}"
        if self.low is None and self.high is None:
            text = "any number"
        elif self.high is None:
            text = f"{'>' if self.low_open else '>='} {self.low}"
        elif self.low is None:
            text = f"{'<' if self.high_open else '<='} {self.high}"
        else:
            text = (f"in {'(' if self.low_open else '['}{self.low}, "
                    f"{self.high}{')' if self.high_open else ']'}")
        return text if self.off is None else f"{self.off} or {text}"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registered model: builder, hyper-parameters and cross checks.

    Each check maps the resolved hyper-parameters to an error message
    naming the keys involved, or None when they fit together.
    """

    name: str
    description: str
    builder: Callable
    hparams: dict
    checks: tuple = ()


_REGISTRY: dict[str, ModelSpec] = {}


def register(name, description, hparams, checks=()):
    """Decorator adding ``fn(ids, vocab_size, num_classes, hp)`` as `name`.

    `hparams` maps each hyper-parameter name to its `HParam`; `checks` are
    ``check(hp) -> message or None`` for constraints between them.
    ``fn`` receives the int32 ids input tensor and returns the output
    probabilities tensor; `build` wraps them in a `keras.Model`.
    """

    def decorate(fn):
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name, description, fn, dict(hparams), tuple(checks)
        )
        return fn

    return decorate


def names():
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def describe():
    """``{name: one-line description}`` for every registered model."""
    return {name: _REGISTRY[name].description for name in names()}


def _spec(name):
    if name not in _REGISTRY:
        raise ConfigError(
            f"unknown model {name!r}; choose one of: {', '.join(names())}"
        )
    return _REGISTRY[name]


def hparam_specs(name):
    """``{key: HParam}``: the declared hyper-parameters of model `name`."""
    return dict(_spec(name).hparams)


def default_hparams(name):
    """A copy of the default hyper-parameters of model `name`."""
    return {key: spec.default for key, spec in _spec(name).hparams.items()}


def _checked(model, key, value, spec):
    where = f"hyper-parameter {key!r} of model {model!r}"
    try:
        coerced = values.coerce(value, spec.kind)
    except ValueError as error:
        raise ConfigError(f"{where} must be {error}; got {value!r}") from None
    if not spec.allows(coerced):
        raise ConfigError(
            f"{where} must be {spec.describe_allowed()}; got {value!r}"
        )
    return coerced


def resolve_hparams(name, **hparams):
    """Defaults of `name` updated with validated, coerced `hparams`."""
    spec = _spec(name)
    resolved = default_hparams(name)
    for key, value in hparams.items():
        if key not in spec.hparams:
            raise ConfigError(
                f"unknown hyper-parameter {key!r} for model {name!r}; "
                f"valid: {', '.join(sorted(spec.hparams))}"
            )
        resolved[key] = _checked(name, key, value, spec.hparams[key])
    for check in spec.checks:
        message = check(resolved)
        if message:
            raise ConfigError(f"hyper-parameters of model {name!r}: {message}")
    return resolved


def _check_size(key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer; got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}; got {value}")


def build(name, vocab_size, num_classes, *, multi_label=False, **hparams):
    """Build the registered model `name` as an uncompiled `keras.Model`.

    The model maps right-padded int ids ``[batch, time]`` (0 = padding,
    any length) to class probabilities ``[batch, num_classes]``: a
    softmax, or with `multi_label` one sigmoid per class.
    """
    spec = _spec(name)
    _check_size("vocab_size", vocab_size, 3)
    _check_size("num_classes", num_classes, 2)
    hp = resolve_hparams(name, **hparams)
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    probabilities = spec.builder(ids, vocab_size, num_classes, hp)
    if multi_label:
        from kerasseq.models.common import sigmoid_head

        probabilities = sigmoid_head(
            keras.Model(ids, probabilities), num_classes
        )
    return keras.Model(ids, probabilities, name=name)
