"""Model registry and hyper-parameter validation.

A builder is one decorated function::

    @register("lstm", "One-line description.", defaults={"units": 64},
              choices={"pooling": ("last", "max")})
    def _build_lstm(ids, vocab_size, num_classes, hp):
        ...  # returns the probabilities tensor

Hyper-parameters are checked against the defaults: unknown names, wrong
types, out-of-range numbers and unknown choices raise `ConfigError`.
Strings (from a CLI ``--set units=128``) are coerced to the default's type.
"""

import dataclasses
from collections.abc import Callable

import keras

from kerasseq.errors import ConfigError

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")

# Range checks shared by every model: (low, high, high_inclusive).
_RANGES = {
    "embedding_dim": (1, None, True),
    "units": (1, None, True),
    "num_layers": (1, None, True),
    "hidden_units": (0, None, True),
    "attention_units": (0, None, True),
    "dropout": (0.0, 1.0, False),
    "recurrent_dropout": (0.0, 1.0, False),
    "num_heads": (1, None, True),
    "num_blocks": (1, None, True),
    "intermediate_dim": (1, None, True),
    "max_length": (1, None, True),
    "filters": (1, None, True),
    "kernel_sizes": (1, None, True),
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One registered model: its builder, defaults and allowed choices."""

    name: str
    description: str
    builder: Callable
    defaults: dict
    choices: dict


_REGISTRY: dict[str, ModelSpec] = {}


def register(name, description, defaults, choices=None):
    """Decorator adding ``fn(ids, vocab_size, num_classes, hp)`` as `name`.

    ``fn`` receives the int32 ids input tensor and returns the output
    probabilities tensor; `build` wraps them in a `keras.Model`.
    """

    def decorate(fn):
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(
            name, description, fn, dict(defaults), dict(choices or {})
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


def default_hparams(name):
    """A copy of the default hyper-parameters of model `name`."""
    return dict(_spec(name).defaults)


def _coerce(model, key, value, default):
    kind = type(default)
    where = f"hyper-parameter {key!r} of model {model!r}"
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE:
            return True
        if isinstance(value, str) and value.strip().lower() in _FALSE:
            return False
        raise ConfigError(
            f"{where} must be a boolean (true/false); got {value!r}"
        )
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where} must be an integer; got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number; got {value!r}")
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string; got {value!r}")
    return value.strip()


def _check_range(model, key, value):
    if key not in _RANGES:
        return
    low, high, high_inclusive = _RANGES[key]
    too_high = high is not None and (
        value > high if high_inclusive else value >= high
    )
    if value < low or too_high:
        if high is None:
            allowed = f">= {low}"
        else:
            allowed = f"in [{low}, {high}{']' if high_inclusive else ')'}"
        raise ConfigError(
            f"hyper-parameter {key!r} of model {model!r} must be {allowed}; "
            f"got {value!r}"
        )


def resolve_hparams(name, **hparams):
    """Defaults of `name` updated with validated, coerced `hparams`."""
    spec = _spec(name)
    resolved = dict(spec.defaults)
    for key, value in hparams.items():
        if key not in spec.defaults:
            raise ConfigError(
                f"unknown hyper-parameter {key!r} for model {name!r}; "
                f"valid: {', '.join(sorted(spec.defaults))}"
            )
        value = _coerce(name, key, value, spec.defaults[key])
        _check_range(name, key, value)
        allowed = spec.choices.get(key)
        if allowed is not None and value not in allowed:
            raise ConfigError(
                f"hyper-parameter {key!r} of model {name!r} must be one of "
                f"{', '.join(allowed)}; got {value!r}"
            )
        resolved[key] = value
    return resolved


def _check_size(key, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer; got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}; got {value}")


def build(name, vocab_size, num_classes, **hparams):
    """Build the registered model `name` as an uncompiled `keras.Model`.

    The model maps right-padded int ids ``[batch, time]`` (0 = padding,
    any length) to class probabilities ``[batch, num_classes]``.
    """
    spec = _spec(name)
    _check_size("vocab_size", vocab_size, 3)
    _check_size("num_classes", num_classes, 2)
    hp = resolve_hparams(name, **hparams)
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    probabilities = spec.builder(ids, vocab_size, num_classes, hp)
    return keras.Model(ids, probabilities, name=name)
