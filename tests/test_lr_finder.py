"""`kerasseq.lr_finder`: the range test on a least-squares problem whose
good learning rates are known in closed form, and `lr_find` on a run."""

import json

import keras
import matplotlib.image
import numpy as np
import pytest

from kerasseq.errors import ConfigError
from kerasseq.lr_finder import LRRangeTest, lr_find, suggest
from kerasseq.training import TrainConfig, train

START, END, STEPS = 1e-4, 10.0, 100


def _least_squares(seed=0, n=256, d=4):
    """Whitened, centred features: the mean squared error has Hessian 2I
    in (weights, bias), so full-batch gradient descent converges for
    learning rates below 1 and diverges above."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    q, _ = np.linalg.qr(x - x.mean(axis=0))
    x = (q * np.sqrt(n)).astype("float32")
    y = x @ rng.normal(size=(d, 1)) + 3.0 + 0.01 * rng.normal(size=(n, 1))
    return x, y.astype("float32")


def _linear_model(learning_rate=START):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


class _RateProbe(keras.callbacks.Callback):
    """Reads the optimizer's learning rate at the end of every batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


@pytest.fixture(scope="module")
def range_test():
    x, y = _least_squares()
    model = _linear_model()
    finder, probe = LRRangeTest(START, END, STEPS), _RateProbe()
    model.fit(x, y, batch_size=len(x), epochs=STEPS, verbose=0,
              callbacks=[finder, probe])
    return finder, probe, (x, y)


def _gradient_descent_losses(learning_rate, steps):
    """First and last mean squared error of full-batch gradient descent
    from zero on `_least_squares`, in NumPy."""
    x, y = _least_squares()
    features = np.hstack([x, np.ones((len(x), 1))]).astype("float64")
    theta = np.zeros((features.shape[1], 1))
    losses = []
    for _ in range(steps + 1):
        error = features @ theta - y
        losses.append(float(np.mean(error**2)))
        theta -= learning_rate * 2 * features.T @ error / len(x)
    return losses[0], losses[-1]


def test_the_known_range_is_right():
    first, last = _gradient_descent_losses(0.9, 30)
    assert last < 1e-2 * first
    first, last = _gradient_descent_losses(1.1, 30)
    assert last > first


def test_learning_rates_are_the_geometric_sequence(range_test):
    finder, probe, _ = range_test
    count = len(finder.learning_rates)
    expected = np.geomspace(START, END, STEPS)[:count]
    np.testing.assert_allclose(finder.learning_rates, expected, rtol=1e-12)
    np.testing.assert_allclose(probe.rates, expected, rtol=1e-6)


def test_records_each_batch_loss_and_stops_on_divergence(range_test):
    finder, _, (x, y) = range_test
    assert finder.diverged
    assert len(finder.losses) < STEPS
    # Rates past 1 diverge: the test stops there, before END.
    assert 1.0 < finder.learning_rates[-1] < END / 1.5
    # Step 0's loss is the untrained model's loss on the whole batch.
    initial = _linear_model().predict(x, verbose=0)
    assert finder.losses[0] == pytest.approx(
        float(np.mean((initial - y) ** 2)), rel=1e-5)
    beta, average = 0.98, 0.0
    for step, loss in enumerate(finder.losses):
        average = beta * average + (1 - beta) * loss
        assert finder.smoothed_losses[step] == pytest.approx(
            average / (1 - beta ** (step + 1)))


@pytest.mark.parametrize("method", ["minimum", "steepest"])
def test_suggestion_is_in_the_good_range(range_test, method):
    finder, _, _ = range_test
    suggestion = finder.suggest(method)
    assert 0.02 <= suggestion < 1.0
    first, last = _gradient_descent_losses(suggestion, 100)
    assert last < 1e-2 * first


def test_suggest_rules_on_a_known_curve():
    rates = np.geomspace(1e-5, 1.0, 50)
    # Falls fastest at 1e-3, lowest at 1e-2, then rises.
    log_rates = np.log10(rates)
    losses = 2 - np.tanh(2 * (log_rates + 3)) + 0.2 * np.maximum(
        log_rates + 2, 0) ** 2
    lowest = rates[np.argmin(losses[5:45]) + 5]
    assert suggest(rates, losses, "minimum") == pytest.approx(lowest / 10)
    assert suggest(rates, losses, "steepest") == pytest.approx(1e-3,
                                                               rel=0.3)
    with pytest.raises(ConfigError, match="one of minimum, steepest"):
        suggest(rates, losses, "valley")
    with pytest.raises(ConfigError, match="too few to suggest"):
        suggest(rates[:6], losses[:6])


@pytest.mark.parametrize(
    "arguments, message",
    [((1.0, 0.1, 100), "0 < start_lr < end_lr"),
     ((0, 1.0, 100), "0 < start_lr < end_lr"),
     ((1e-5, 1.0, 5), "steps to be an integer >= 10")],
)
def test_bad_ranges(arguments, message):
    with pytest.raises(ConfigError, match=message):
        LRRangeTest(*arguments)


def _config(out, **changes):
    return TrainConfig(
        model="bag_of_embeddings", data="builtin:synthetic_sentiment",
        out=str(out), epochs=1, data_options={"n": 300}, export=False,
        hparams={"embedding_dim": 8, "hidden_units": 8}, patience=None,
        **changes,
    )


def test_lr_find_writes_plot_and_json_and_leaves_train_alone(tmp_path):
    before = train(_config(tmp_path / "before"), verbose=0)
    result = lr_find(_config(tmp_path / "unused").to_dict(), start_lr=1e-4,
                     end_lr=10.0, steps=40, out=tmp_path / "finder")
    after = train(_config(tmp_path / "after"), verbose=0)

    assert 1e-4 <= result.suggestion <= 10.0
    np.testing.assert_allclose(result.learning_rates,
                               np.geomspace(1e-4, 10.0, 40)[
                                   : len(result.learning_rates)])
    saved = json.loads((tmp_path / "finder" / "lr_find.json").read_text())
    assert saved["suggestion"] == result.suggestion
    assert saved["learning_rates"] == result.learning_rates
    assert saved["method"] == "minimum"
    image = matplotlib.image.imread(tmp_path / "finder" / "lr_find.png")
    assert image.ndim == 3 and image.shape[0] > 100
    assert not (tmp_path / "unused").exists()
    # Nothing of the finder's model or optimizer reaches a later run.
    np.testing.assert_allclose(
        after.model.get_weights()[0], before.model.get_weights()[0])
    assert after.metrics["accuracy"] == before.metrics["accuracy"]


def test_lr_find_refuses_bad_config():
    with pytest.raises(ConfigError, match="unknown config key"):
        lr_find({"modle": "lstm"})
    with pytest.raises(ConfigError, match="0 < start_lr < end_lr"):
        lr_find({"model": "lstm"}, start_lr=1.0, end_lr=0.5)


def test_cli_lr_find_prints_the_saved_suggestion(tmp_path, capsys):
    from kerasseq.cli import main

    out = tmp_path / "finder"
    assert main(["lr-find", "--model", "bag_of_embeddings", "--data",
                 "builtin:synthetic_sentiment", "--out", str(out),
                 "--start-lr", "1e-4", "--end-lr", "10", "--steps", "20",
                 "--set", "data_options.n=300", "--set", "embedding_dim=8",
                 "--set", "hidden_units=8"]) == 0
    saved = json.loads((out / "lr_find.json").read_text())
    printed = capsys.readouterr().out
    assert f"suggested learning rate: {saved['suggestion']:.3g}" in printed
    assert (out / "lr_find.png").is_file()
