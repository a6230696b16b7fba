"""The hyper-parameter search space of `kerasseq tune`, without KerasTuner.

`search_space` turns a base config dict and ``--space`` entries
(``name=low:high[:log]`` or ``name=a,b,c``) into `Dimension` objects:
every declared hyper-parameter of the model over its
`HParam.search_bounds` (log scale where declared) or its choices, plus
``learning_rate`` (1e-4 to 1e-2, log) and ``batch_size`` (16, 32 or 64),
less what the base config fixes. `trial_config` builds one trial's
config dict from sampled values. Only `Dimension.declare` touches
KerasTuner, through the `HyperParameters` object it is given, so this
module imports without ``keras_tuner`` (`kerasseq.tuning` runs the search).
"""

import dataclasses
import math

from kerasseq import models, values
from kerasseq.config import TrainConfig
from kerasseq.errors import ConfigError

# Fields a search may not vary: they name the data, the outputs or the
# hardware, or they change the validation split (scores must compare).
_FIXED_FIELDS = (
    "model", "data", "out", "overwrite", "export", "data_options",
    "hparams", "strategy", "devices", "seed", "validation_fraction",
)
# Trials differ from the base config only in these and the searched ones.
_TRIAL_FIELDS = ("out", "overwrite", "export")
_HYPERBAND_EPOCHS = "tuner/epochs"


@dataclasses.dataclass(frozen=True)
class Dimension:
    """One searched setting: a config field or a model hyper-parameter.

    Either a numeric range (`low`, `high`, `log`; int or float by the
    type of `low`) or `choices` (the values tried).
    """

    name: str
    target: str  # "config" or "hparams"
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: tuple = ()

    def declare(self, hp):
        """Adds this dimension to KerasTuner's `HyperParameters` `hp`."""
        if self.choices:
            if set(self.choices) == {True, False}:
                return hp.Boolean(self.name)
            return hp.Choice(self.name, list(self.choices))
        sampling = "log" if self.log else "linear"
        if isinstance(self.low, int):
            return hp.Int(self.name, self.low, self.high, sampling=sampling)
        return hp.Float(self.name, self.low, self.high, sampling=sampling)

    def describe(self):
        """The dimension as ``--space`` text, e.g. ``units=16:512:log``."""
        if self.choices:
            return f"{self.name}={','.join(map(_text, self.choices))}"
        log = ":log" if self.log else ""
        return f"{self.name}={self.low}:{self.high}{log}"


def _text(value):
    """`value` as ``--space`` text: none, true/false, else ``str``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# -------------------------------------------------------------- the space


def _space_error(entry, problem):
    if entry is None:
        return ConfigError(problem)
    return ConfigError(f"--space {entry!r}: {problem}")


def _field_value(name, text, entry):
    """`text` as config field `name`'s value, checked by `TrainConfig`."""
    try:
        value = TrainConfig.from_dict({name: text}).to_dict()[name]
    except ConfigError as error:
        raise _space_error(entry, str(error)) from None
    return value


def _hparam_value(model, name, spec, text, entry=None):
    """`text` as hyper-parameter `name`'s value, checked by its `HParam`."""
    try:
        value = values.coerce(text, spec.kind)
    except ValueError as error:
        raise _space_error(
            entry, f"hyper-parameter {name!r} of model {model!r} must be "
            f"{error}; got {text!r}") from None
    if not spec.allows(value):
        raise _space_error(
            entry, f"hyper-parameter {name!r} of model {model!r} must be "
            f"{spec.describe_allowed()}; got {text!r}")
    return value


def _check_range(entry, low, high, log):
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise _space_error(
                entry, "a range needs two numbers; give choices a,b,c for "
                "other values")
        if not math.isfinite(bound):
            raise _space_error(entry, "range bounds must be finite numbers")
    if low >= high:
        raise _space_error(
            entry, f"empty or inverted range {low}:{high}; give low < high "
            "(or one value to fix it)")
    if log and low <= 0:
        raise _space_error(entry, "a log range needs low > 0")


def _parse_entry(model, entry, specs, fields):
    """One ``name=low:high[:log]`` / ``name=a,b,c`` entry as a Dimension."""
    name, sep, text = (part.strip() for part in entry.partition("="))
    if not sep or not name or not text:
        raise _space_error(
            entry, "expected name=low:high[:log] or name=a,b,c")
    explicit = name.startswith("hparams.")
    name = name.removeprefix("hparams.")
    if not explicit and name in fields:
        if name in _FIXED_FIELDS:
            raise _space_error(
                entry, f"config field {name!r} cannot be searched (it names "
                "the data, outputs or hardware, or changes the validation "
                "split); fix it with --set")
        target = "config"

        def parse(part):
            return _field_value(name, part, entry)
    elif name in specs:
        target = "hparams"

        def parse(part):
            return _hparam_value(model, name, specs[name], part, entry)
    else:
        raise _space_error(
            entry, f"unknown name {name!r}; search a config field "
            f"({', '.join(f for f in fields if f not in _FIXED_FIELDS)}) "
            f"or a hyper-parameter of {model!r} "
            f"({', '.join(sorted(specs))})")
    if ":" in text:
        parts = [part.strip() for part in text.split(":")]
        if len(parts) not in (2, 3) or (len(parts) == 3
                                        and parts[2].lower() != "log"):
            raise _space_error(
                entry, "a range is low:high or low:high:log")
        if not parts[0] or not parts[1]:
            raise _space_error(entry, "a range needs both bounds")
        low, high = parse(parts[0]), parse(parts[1])
        log = len(parts) == 3
        _check_range(entry, low, high, log)
        return Dimension(name, target, low=low, high=high, log=log)
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise _space_error(entry, "empty choice; give name=a,b,c")
    choices = tuple(parse(part) for part in parts)
    for choice in choices:
        if isinstance(choice, float) and not math.isfinite(choice):
            raise _space_error(entry, "choices must be finite numbers")
    if len(set(choices)) != len(choices):
        raise _space_error(entry, "a choice is repeated")
    if len({type(choice) for choice in choices}) > 1:
        # KerasTuner wants choices of one type; the config coerces back.
        choices = tuple(_text(choice) for choice in choices)
    return Dimension(name, target, choices=choices)


def _declared(name, spec):
    if spec.kind is bool:
        return Dimension(name, "hparams", choices=(False, True))
    if spec.kind is str:
        return Dimension(name, "hparams", choices=tuple(spec.choices))
    low, high = spec.search_bounds
    return Dimension(name, "hparams", low=spec.kind(low),
                     high=spec.kind(high), log=spec.log)


def search_space(config, space=()):
    """The searched dimensions for base config dict `config`.

    Every declared hyper-parameter of ``config["model"]`` and
    ``learning_rate`` / ``batch_size``, except those `config` names (they
    stay fixed), then the `space` entries: ``name=low:high[:log]`` or
    ``name=a,b,c`` for a config field or a hyper-parameter (bare name or
    ``hparams.NAME``); an entry replaces a dimension of the same name.

    Returns:
        A list of `Dimension`, in declaration order then entry order.

    Raises:
        ConfigError: unknown model or name, a field that cannot be
            searched, malformed entry, empty or inverted range, value out
            of the allowed range, non-finite number.
    """
    model = config.get("model", TrainConfig.model)
    specs = models.hparam_specs(model)
    fixed = set(config.get("hparams") or {})
    dimensions = {
        name: _declared(name, spec)
        for name, spec in specs.items() if name not in fixed
    }
    defaults = {
        "learning_rate": Dimension("learning_rate", "config", low=1e-4,
                                   high=1e-2, log=True),
        "batch_size": Dimension("batch_size", "config",
                                choices=(16, 32, 64)),
    }
    dimensions.update(
        (name, dim) for name, dim in defaults.items() if name not in config
    )
    fields = TrainConfig.field_names()
    for entry in space:
        dim = _parse_entry(model, entry, specs, fields)
        dimensions[dim.name] = dim
    return list(dimensions.values())


# ----------------------------------------------------------------- trials


def trial_config(base, dimensions, trial_values, run_dir):
    """The config dict of one trial: `base` with the trial's values.

    `trial_values` maps dimension names to values (KerasTuner's
    ``trial.hyperparameters.values``); Hyperband's ``tuner/epochs`` sets
    ``epochs``. The trial trains into `run_dir` without a SavedModel
    export unless `base` asks for one.
    """
    config = {
        **base,
        "hparams": dict(base.get("hparams") or {}),
        "out": str(run_dir),
        "overwrite": False,
        "export": base.get("export", False),
    }
    for dim in dimensions:
        if dim.target == "hparams":
            config["hparams"][dim.name] = trial_values[dim.name]
        else:
            config[dim.name] = trial_values[dim.name]
    if _HYPERBAND_EPOCHS in trial_values:
        config["epochs"] = int(trial_values[_HYPERBAND_EPOCHS])
    return config
