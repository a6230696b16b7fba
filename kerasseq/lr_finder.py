"""The learning-rate range test (Smith 2017), as fastai and ktrain run it.

The learning rate grows exponentially from ``start_lr`` to ``end_lr``, one
value per training batch; the loss of every batch is recorded and
smoothed (exponential moving average with bias correction, ``beta`` 0.98);
the test stops once the smoothed loss exceeds 4 times its best value (or
is not finite). The suggestion is read off the smoothed curve, after
dropping its first tenth and last 5 points as fastai does:

* ``"minimum"`` (default): a tenth of the rate with the lowest loss
  (fastai's ``lr_min``; the minimum itself is already too high to train
  at, since the loss is about to diverge there);
* ``"steepest"``: the rate where the loss falls fastest against
  ``log10(lr)`` (fastai's ``lr_steep``, ktrain's numerical gradient),
  taken before the minimum.

    result = kerasseq.lr_finder.lr_find({"model": "lstm", "data": ...})
    train({..., "learning_rate": result.suggestion})
"""

import dataclasses
import math
import warnings
from pathlib import Path

import keras
import numpy as np

from kerasseq.errors import ConfigError
from kerasseq.files import write_atomically, write_json

PLOT_FILE = "lr_find.png"
RESULT_FILE = "lr_find.json"
METHODS = ("minimum", "steepest")
# Suggestions ignore the last points: the loss is diverging there.
SKIP_END = 5


class LRRangeTest(keras.callbacks.Callback):
    """Keras callback running the range test during `Model.fit`.

    Before batch ``i`` the optimizer's learning rate is set to
    ``geomspace(start_lr, end_lr, steps)[i]``; after it the batch's loss
    is recorded. Training stops after `steps` batches or once the
    smoothed loss exceeds ``divergence`` times its best value. The
    optimizer needs a plain (not scheduled) learning rate.

    Attributes:
        learning_rates: the rate of each finished batch.
        losses: each batch's loss.
        smoothed_losses: their bias-corrected moving average.
        diverged: whether the test stopped on divergence.
    """

    def __init__(self, start_lr=1e-6, end_lr=1.0, steps=100, beta=0.98,
                 divergence=4.0):
        super().__init__()
        _check_range(start_lr, end_lr, steps)
        self.schedule = np.geomspace(start_lr, end_lr, steps)
        self.beta = beta
        self.divergence = divergence
        self.learning_rates = []
        self.losses = []
        self.smoothed_losses = []
        self.diverged = False
        self._average = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        # Keras logs the loss averaged over the epoch so far: resetting
        # the trackers makes the logged loss that of this batch alone.
        self.model.reset_metrics()
        step = len(self.learning_rates)
        self.model.optimizer.learning_rate = float(self.schedule[step])

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        step = len(self.learning_rates)
        self.learning_rates.append(float(self.schedule[step]))
        self.losses.append(loss)
        self._average = self.beta * self._average + (1 - self.beta) * loss
        smoothed = self._average / (1 - self.beta ** (step + 1))
        self.smoothed_losses.append(smoothed)
        if not math.isfinite(smoothed) or (
                smoothed > self.divergence * min(self.smoothed_losses)):
            self.diverged = True
            self.model.stop_training = True
        elif len(self.learning_rates) == len(self.schedule):
            self.model.stop_training = True

    def suggest(self, method="minimum"):
        """The suggested learning rate (see the module docstring)."""
        return suggest(self.learning_rates, self.smoothed_losses, method)


def suggest(learning_rates, smoothed_losses, method="minimum"):
    """A learning rate from a range-test curve: ``"minimum"`` (a tenth of
    the rate with the lowest loss) or ``"steepest"`` (the steepest fall
    of the loss against log10 of the rate, before the minimum).

    Raises:
        ConfigError: unknown `method`, or too few points to choose from.
    """
    if method not in METHODS:
        raise ConfigError(
            f"Expected method to be one of {', '.join(METHODS)}. "
            f"Received {method!r}."
        )
    rates = np.asarray(learning_rates, dtype="float64")
    losses = np.asarray(smoothed_losses, dtype="float64")
    begin, end = len(rates) // 10, len(rates) - SKIP_END
    finite = np.isfinite(losses[begin:end])
    if end - begin < 3 or not finite.all():
        raise ConfigError(
            f"The range test recorded {len(rates)} step(s), too few to "
            "suggest a rate (the loss diverged early): lower start_lr or "
            "raise steps."
        )
    rates, losses = rates[begin:end], losses[begin:end]
    lowest = int(np.argmin(losses))
    if method == "minimum":
        return float(rates[lowest] / 10)
    if lowest < 2:
        return float(rates[lowest])
    slopes = np.gradient(losses[: lowest + 1], np.log10(rates[: lowest + 1]))
    return float(rates[int(np.argmin(slopes))])


def _check_range(start_lr, end_lr, steps):
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                  for v in (start_lr, end_lr))
    if not numbers or not 0 < start_lr < end_lr:
        raise ConfigError(
            f"Expected 0 < start_lr < end_lr. Received start_lr={start_lr!r},"
            f" end_lr={end_lr!r}."
        )
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 10:
        raise ConfigError(
            f"Expected steps to be an integer >= 10. Received {steps!r}."
        )


@dataclasses.dataclass
class LRFindResult:
    """What `lr_find` returns (and writes to ``lr_find.json``)."""

    learning_rates: list
    losses: list
    smoothed_losses: list
    suggestion: float
    method: str
    diverged: bool
    out: Path

    def to_dict(self):
        return {**dataclasses.asdict(self), "out": str(self.out)}


def lr_find(config, start_lr=1e-6, end_lr=1.0, steps=100, out=None, *,
            method="minimum", verbose=0):
    """Runs the range test for `config` on its training split.

    The data, tokenizer, model and optimizer are those `train` would
    build for `config` (its ``learning_rate``, ``lr_schedule`` and warm-up
    are replaced by the test's rates); the model is thrown away afterwards,
    so nothing carries over to a later `train`. Writes ``lr_find.png``
    (loss against learning rate, the suggestion marked) and
    ``lr_find.json`` into `out` (default ``runs/lr_find/<model>``).

    Args:
        config: a `TrainConfig` or a dict for `TrainConfig.from_dict`.
        start_lr, end_lr: the range of learning rates.
        steps: the most batches to run (over several epochs if needed).
        out: folder for the plot and the JSON.
        method: ``"minimum"`` or ``"steepest"`` (module docstring).
        verbose: Keras ``fit`` verbosity.

    Returns:
        An `LRFindResult`.

    Raises:
        ConfigError / DataError: bad config or data, as for `train`.
    """
    from kerasseq.training import TrainConfig

    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ConfigError(
            f"Expected a TrainConfig or a dict. Received "
            f"{type(config).__name__}."
        )
    _check_range(start_lr, end_lr, steps)
    if method not in METHODS:
        raise ConfigError(
            f"Expected method to be one of {', '.join(METHODS)}. "
            f"Received {method!r}."
        )
    if config.strategy == "multiworker":
        raise ConfigError(
            "lr_find runs on one machine; use strategy='auto' or 'none'"
        )
    out = Path(out) if out is not None else (
        Path("runs") / "lr_find" / config.model)
    finder = LRRangeTest(start_lr, end_lr, steps)
    _run_range_test(dataclasses.replace(
        config, learning_rate=start_lr, lr_schedule=None, warmup_steps=None,
        warmup_fraction=None), finder, verbose)
    result = LRFindResult(
        learning_rates=finder.learning_rates,
        losses=finder.losses,
        smoothed_losses=finder.smoothed_losses,
        suggestion=finder.suggest(method),
        method=method,
        diverged=finder.diverged,
        out=out,
    )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / RESULT_FILE, _finite(result.to_dict()))
    plot(result, out / PLOT_FILE)
    return result


def _run_range_test(config, finder, verbose):
    """Fits a fresh model for `config` with `finder` as its callback.

    Uses `kerasseq.training`'s own steps (read-only): the tokenizer, the
    training dataset, the compiled model and the class weights, so the
    test sees what `train` would.
    """
    from kerasseq import models, vectors
    from kerasseq.datasets import load_dataset
    from kerasseq.training import distribution, fitting

    hparams = config.hparams
    if config.embeddings is not None:
        hparams = vectors.model_hparams(
            config.model, hparams, vectors.load_vectors(config.embeddings))
    config = dataclasses.replace(
        config, hparams=models.resolve_hparams(config.model, **hparams))
    strategy = distribution.make_strategy(config)
    dataset = load_dataset(config.data, **config.dataset_options())
    texts, labels, _, _ = dataset.validation_split(
        config.validation_fraction, config.seed)
    tokenizer = fitting.fit_tokenizer(config, texts)
    config = dataclasses.replace(config,
                                 maxlen=config.maxlen or tokenizer.maxlen)
    keras.utils.set_random_seed(config.seed)
    sequences = tokenizer.texts_to_sequences(texts)
    train_ds = fitting.train_dataset(config, sequences, labels, strategy,
                                     config.seed)
    batches = int(train_ds.cardinality())
    if batches < 0:
        batches = int(train_ds.reduce(0, lambda count, _: count + 1))
    with distribution.precision_policy(config.mixed_precision):
        model = fitting.compiled_model(
            config, strategy, tokenizer, dataset.num_classes, train_ds,
            (sequences, labels))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out")
            model.fit(
                train_ds, shuffle=False, verbose=verbose,
                epochs=math.ceil(len(finder.schedule) / max(batches, 1)),
                callbacks=[finder],
                class_weight=fitting.class_weights(
                    config, labels, dataset.class_names),
            )


def _finite(value):
    """`value` with NaN/inf floats (a diverged loss) as None, for JSON."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plot(result, path):
    """Writes the loss-against-learning-rate PNG of `result` to `path`."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    axes.plot(result.learning_rates, result.losses, color="0.8",
              label="batch loss")
    axes.plot(result.learning_rates, result.smoothed_losses,
              label="smoothed loss")
    # From the lowest loss to a little above the starting losses: the
    # diverging end would squash the curve.
    finite = [v for v in result.losses + result.smoothed_losses
              if math.isfinite(v)]
    if finite:
        start = result.losses[: max(len(result.losses) // 10, 1)]
        low = min(finite)
        high = max([v for v in start if math.isfinite(v)], default=low)
    if finite and high > low:
        axes.set_ylim(low - 0.1 * (high - low), high + 0.5 * (high - low))
    axes.axvline(result.suggestion, color="tab:red", linestyle="--",
                 label=f"suggestion ({result.method}): "
                       f"{result.suggestion:.2g}")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (log scale)")
    axes.set_ylabel("training loss")
    axes.set_title("Learning-rate range test")
    axes.legend()
    write_atomically(
        Path(path), lambda file: figure.savefig(file, format="png", dpi=100),
        binary=True)
