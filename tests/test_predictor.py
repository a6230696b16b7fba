"""`kerasseq.predictor`: predictions, explanations and evaluation checked
against the saved Keras model and scikit-learn, computed here."""

import functools
import json

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

import kerasseq  # noqa: F401  (registers the custom layers for loading)
from kerasseq.datasets import load_dataset
from kerasseq.errors import ArtifactError, DataError
from kerasseq.models import attention_model
from kerasseq.predictor import Explanation, as_texts, load
from kerasseq.text import Tokenizer, pad, tokenize
from kerasseq.training import TrainConfig, train

DATA = "builtin:synthetic_sentiment"
DATA_OPTIONS = {"n": 200}
TEXTS = ["a great film", "not at all funny or clever",
         "dull at first but ultimately moving", "", "zzz unseen words"]


def _train(out, model, hparams):
    config = TrainConfig(
        model=model, data=DATA, out=str(out), epochs=1, batch_size=32,
        data_options=dict(DATA_OPTIONS), hparams=hparams, patience=None,
    )
    return train(config, verbose=0).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predictor")
    return {
        "attention": _train(root / "attention", "bilstm_bahdanau",
                            {"embedding_dim": 8, "units": 8}),
        "plain": _train(root / "plain", "bag_of_embeddings",
                        {"embedding_dim": 8, "hidden_units": 8}),
    }


@pytest.fixture(scope="module")
def loaded(runs):
    """`load(...)` of a run (``where="run"``) or its export, loaded once."""
    cache = {}

    def get(kind, where="run"):
        if (kind, where) not in cache:
            path = runs[kind]
            cache[kind, where] = load(
                path if where == "run" else path / "saved_model")
        return cache[kind, where]

    return get


@functools.cache
def _reference(run_dir):
    """The run's saved Keras model, tokenizer and maxlen, read directly."""
    model = keras.saving.load_model(run_dir / "model.keras")
    tokenizer = Tokenizer.from_json(
        (run_dir / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((run_dir / "config.json").read_text())
    return model, tokenizer, config["config"]["maxlen"], config["class_names"]


def _expected_proba(run_dir, texts):
    model, tokenizer, maxlen, _ = _reference(run_dir)
    return model.predict(pad(tokenizer.texts_to_sequences(texts), maxlen),
                         verbose=0)


@pytest.mark.parametrize("kind", ["attention", "plain"])
@pytest.mark.parametrize("where", ["run", "export"])
def test_predict_proba_equals_the_saved_model(runs, loaded, kind, where):
    run_dir = runs[kind]
    predictor = loaded(kind, where)
    expected = _expected_proba(run_dir, TEXTS)
    got = predictor.predict_proba(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    _, _, _, class_names = _reference(run_dir)
    assert predictor.class_names == class_names
    assert predictor.predict(TEXTS) == [class_names[i]
                                        for i in expected.argmax(axis=1)]


def test_accepts_numpy_arrays_and_tuples(loaded):
    predictor = loaded("plain")
    expected = predictor.predict_proba(TEXTS)
    for texts in (np.array(TEXTS), np.array(TEXTS, dtype=object),
                  tuple(TEXTS)):
        np.testing.assert_allclose(predictor.predict_proba(texts), expected,
                                   atol=1e-6)
    assert predictor.predict_proba([]).shape == (0, 2)


def test_accepts_pandas_series(loaded):
    pandas = pytest.importorskip("pandas")
    predictor = loaded("plain")
    np.testing.assert_allclose(
        predictor.predict_proba(pandas.Series(TEXTS)),
        predictor.predict_proba(TEXTS), atol=1e-6)


@pytest.mark.parametrize(
    "texts, message",
    [
        ("a great film", "Received a single str; wrap it in a list"),
        (["fine", 3], "Received int at position 1"),
        (["fine", None], "Received NoneType at position 1"),
        (np.array([["a", "b"]]), r"Received an array of shape \(1, 2\)"),
        (5, "Received int"),
    ],
)
def test_bad_texts_are_one_clear_error(texts, message):
    with pytest.raises(DataError, match="Expected a list of strings"):
        as_texts(texts)
    with pytest.raises(DataError, match=message):
        as_texts(texts)


def test_leave_one_out_importance_matches_a_numpy_recomputation(
        runs, loaded):
    model, tokenizer, maxlen, class_names = _reference(runs["plain"])
    text = "dull at first but ultimately moving and clever"
    explanation = loaded("plain", "export").explain(text)

    ids = tokenizer.texts_to_sequences([text])[0]
    full = model.predict(pad([ids], maxlen), verbose=0)[0]
    predicted = int(np.argmax(full))
    without = model.predict(
        pad([np.delete(ids, i) for i in range(len(ids))], maxlen),
        verbose=0)
    expected = full[predicted] - without[:, predicted]

    assert isinstance(explanation, Explanation)
    assert explanation.label == class_names[predicted]
    assert explanation.probability == pytest.approx(full[predicted],
                                                    abs=1e-5)
    assert [t.token for t in explanation.tokens] == text.split()
    np.testing.assert_allclose(
        [t.importance for t in explanation.tokens], expected, atol=1e-5)
    assert not explanation.attention_available
    assert all(t.attention is None for t in explanation.tokens)
    assert "attention: unavailable" in str(explanation)


@pytest.mark.parametrize("where", ["run", "export"])
def test_attention_weights_of_attention_models(runs, loaded, where):
    run_dir = runs["attention"]
    predictor = loaded("attention", where)
    text = "not at all funny or clever"
    explanation = predictor.explain(text)
    model, tokenizer, maxlen, _ = _reference(run_dir)
    ids = tokenizer.texts_to_sequences([text])
    expected = attention_model(model).predict(pad(ids, maxlen), verbose=0)
    weights = [t.attention for t in explanation.tokens]
    assert explanation.attention_available
    np.testing.assert_allclose(weights, expected[0, : len(weights)],
                               atol=1e-5)
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)


def test_explain_edge_cases(loaded):
    predictor = loaded("attention")
    empty = predictor.explain("")
    assert empty.tokens == [] and empty.label in predictor.class_names
    long_text = " ".join(["great"] * (predictor.maxlen + 3))
    tokens = predictor.explain(long_text).tokens
    assert len(tokens) == predictor.maxlen + 3
    # Tokens past maxlen are never seen by the model.
    assert all(t.attention == 0 for t in tokens[predictor.maxlen:])
    with pytest.raises(DataError, match="Expected one text"):
        predictor.explain(["a list", "of texts"])


def test_evaluate_matches_sklearn(runs, loaded):
    run_dir = runs["attention"]
    predictor = loaded("attention")
    metrics = predictor.evaluate(DATA, **DATA_OPTIONS)

    dataset = load_dataset(DATA, **DATA_OPTIONS)
    model, tokenizer, maxlen, class_names = _reference(run_dir)
    probabilities = _expected_proba(run_dir, dataset.test_texts)
    to_run = [class_names.index(c) for c in dataset.class_names]
    y_true = np.array(to_run)[dataset.test_labels]
    y_pred = probabilities.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(y_true, y_pred))
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro"))
    assert metrics["n_test"] == len(dataset.test_texts)


def test_evaluate_refuses_unknown_labels(loaded, tmp_path):
    data = tmp_path / "other.csv"
    data.write_text("text,label\n" + "".join(
        f"text {i},{'spam' if i % 2 else 'ham'}\n" for i in range(20)))
    with pytest.raises(DataError, match="labels the model was not trained"):
        loaded("plain").evaluate(str(data), test_size=0.5)


def test_load_refuses_what_is_not_a_run_or_export(tmp_path):
    with pytest.raises(ArtifactError, match="neither a kerasseq run"):
        load(tmp_path)
    with pytest.raises(ArtifactError, match="neither a kerasseq run"):
        load(tmp_path / "missing")


def test_explanation_tokens_follow_the_tokenizer(loaded):
    predictor = loaded("plain")
    text = "It's GREAT, isn't it?"
    tokens = [t.token for t in predictor.explain(text).tokens]
    assert tokens == tokenize([text])[0]
