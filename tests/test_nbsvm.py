"""The `nbsvm` model: registry, ratios adapted by `train()`, reload.

The layer's math is tested in tests/layers/test_log_count_ratio_logits.py.
"""

import json

import keras
import numpy as np

from kerasseq import models
from kerasseq.datasets import load_dataset
from kerasseq.training import TrainConfig, train


def write_topic_csv(path, rows_per_class=60, seed=0):
    """Three classes, each marked by its own words among shared noise."""
    rng = np.random.default_rng(seed)
    cue = {"sport": ["goal", "match"], "food": ["soup", "bread"],
           "tech": ["chip", "code"]}
    noise = ["the", "a", "day", "new", "big", "old", "we", "saw"]
    lines = ["text,label,split"]
    for label, words in cue.items():
        for row in range(rows_per_class):
            text = list(rng.choice(noise, size=6)) + [rng.choice(words)]
            rng.shuffle(text)
            split = "test" if row % 5 == 0 else "train"
            lines.append(f"{' '.join(text)},{label},{split}")
    path.write_text("\n".join(lines) + "\n")
    return path


def reference_ratios(sequences, labels, maxlen, input_dim, num_classes):
    """Wang & Manning's one-vs-rest ratios with add-one smoothing, from
    the distinct ids of each (truncated) sequence; 0 for unseen ids."""
    counts = np.zeros((input_dim, num_classes))
    for sequence, label in zip(sequences, labels, strict=True):
        for token in set(sequence[:maxlen]) - {0}:
            counts[token, label] += 1
    ratios = np.zeros((input_dim, num_classes))
    for c in range(num_classes):
        p = counts[:, c] + 1.0
        q = counts.sum(axis=1) - counts[:, c] + 1.0
        ratios[:, c] = np.log(p / p.sum()) - np.log(q / q.sum())
    ratios[counts.sum(axis=1) == 0] = 0.0
    return ratios


def test_train_adapts_ratios_and_export_reloads(tmp_path):
    config = TrainConfig(
        model="nbsvm", data=str(write_topic_csv(tmp_path / "topics.csv")),
        out=str(tmp_path / "run"), epochs=2, batch_size=16,
        hparams={"buckets": 2**10, "max_n": 1}, export=False,
    )
    result = train(config, verbose=0)
    assert result.metrics["accuracy"] == 1.0
    layer = result.model.get_layer("log_count_ratio_logits")
    ratios = layer.ratios.numpy()
    # The ratios come from the training part of the seeded split alone.
    data = load_dataset(config.data)
    texts, labels, _, _ = data.validation_split(
        config.validation_fraction, config.seed)

    def reference(texts, labels):
        return reference_ratios(
            result.tokenizer.texts_to_sequences(texts), labels,
            result.config.maxlen, layer.input_dim, num_classes=3)

    np.testing.assert_allclose(ratios, reference(texts, labels),
                               rtol=1e-5, atol=1e-6)
    # The validation texts left out make a difference.
    assert not np.allclose(
        ratios, reference(data.train_texts, data.train_labels), atol=1e-3)
    reloaded = keras.models.load_model(tmp_path / "run" / "model.keras")
    np.testing.assert_allclose(
        reloaded.get_layer("log_count_ratio_logits").ratios.numpy(), ratios
    )
    ids = np.array([[2, 3, 4, 5, 0, 0]])
    np.testing.assert_allclose(
        reloaded.predict(ids, verbose=0), result.model.predict(ids, verbose=0),
        rtol=1e-6,
    )
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["hparams"]["max_n"] == 1


def test_nbsvm_is_registered_with_defaults():
    assert "nbsvm" in models.names()
    model = models.build("nbsvm", 20, 2, buckets=64)
    assert model.output_shape == (None, 2)


def check_export_matches_model(result, export_dir):
    """The raw-string export gives the trained model's probabilities."""
    from kerasseq import exporter

    texts = ["we saw a goal", "new soup today", "old chip code"]
    results = exporter.predict(export_dir, texts)
    probs = [list(r["probabilities"].values()) for r in results]
    ids = result.tokenizer.texts_to_padded(texts, maxlen=result.config.maxlen)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(
        probs, result.model.predict(ids, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_subwords_are_adapted_and_exported(tmp_path):
    config = TrainConfig(
        model="nbsvm", data=str(write_topic_csv(tmp_path / "topics.csv")),
        out=str(tmp_path / "run"), epochs=2, batch_size=16,
        hparams={"buckets": 2**10, "max_n": 1, "subword_max_n": 4,
                 "subword_buckets": 2**12},
        export=True,
    )
    result = train(config, verbose=0)
    table = result.model.get_layer("subword_hashing").table.numpy()
    word_id = result.tokenizer.word_index["goal"]
    # "<goal>" has 5 + 4 + 3 character 2-4-grams, offset past the words
    # and word n-gram ids.
    grams = table[word_id][table[word_id] != 0]
    assert len(grams) == 12
    assert grams.min() >= result.tokenizer.vocab_size + 2**10
    assert not table[:2].any()  # padding and OOV
    check_export_matches_model(result, tmp_path / "run" / "saved_model")


def test_character_view_without_word_features(tmp_path):
    config = TrainConfig(
        model="nbsvm", data=str(write_topic_csv(tmp_path / "topics.csv")),
        out=str(tmp_path / "run"), epochs=3, batch_size=16,
        hparams={"max_n": 0, "subword_max_n": 4, "subword_buckets": 2**12,
                 "boundary_max_n": 5, "boundary_buckets": 2**12,
                 "interpolation": 0.5},
        export=True,
    )
    result = train(config, verbose=0)
    layer_names = {layer.name for layer in result.model.layers}
    assert "ngram_hashing" not in layer_names
    # Ids start after padding: subwords 1..2**12, boundaries after them.
    logits = result.model.get_layer("log_count_ratio_logits")
    assert logits.input_dim == 1 + 2 * 2**12
    prefixes = result.model.get_layer("boundary_hashing").prefixes.numpy()
    assert prefixes[result.tokenizer.word_index["goal"]].all()
    assert result.metrics["accuracy"] > 0.9
    # train() interpolated the weights once fitting ended (beta 0.5: the
    # naive Bayes weight is the mean |w| of the ids seen in training).
    seen = logits.ratios.numpy() != 0
    mean_magnitude = [np.abs(column[rows]).mean() for column, rows in
                      zip(logits.offsets.numpy().T, seen.T, strict=True)]
    np.testing.assert_allclose(
        logits.naive_bayes_weights.numpy(), mean_magnitude, rtol=1e-5
    )
    check_export_matches_model(result, tmp_path / "run" / "saved_model")


def test_no_features_is_an_error():
    import pytest

    from kerasseq.errors import ConfigError

    with pytest.raises(ConfigError, match="at least one kind of feature"):
        models.build("nbsvm", 20, 2, max_n=0)
