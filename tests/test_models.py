"""Tests for kerasseq.models: registry, validation, every builder."""

import keras
import numpy as np
import pytest

from kerasseq import models
from kerasseq.errors import ConfigError

VOCAB = 50
CLASSES = 3
REQUIRED = (
    "bag_of_embeddings",
    "simple_rnn",
    "lstm",
    "gru",
    "bilstm",
    "bigru",
    "bilstm_bahdanau",
    "bilstm_luong_dot",
    "bilstm_luong_general",
    "bilstm_luong_concat",
    "transformer",
)
TINY = {
    "embedding_dim": 8,
    "units": 8,
    "hidden_units": 8,
    "attention_units": 8,
    "num_heads": 2,
    "num_blocks": 1,
    "intermediate_dim": 16,
    "max_length": 32,
    "buckets": 64,
}
LENGTHS = (5, 1, 7, 3)


def tiny(name, **overrides):
    """Tiny hyper-parameters valid for `name`."""
    defaults = models.default_hparams(name)
    hp = {key: value for key, value in TINY.items() if key in defaults}
    return {**hp, **overrides}


def make_ids(lengths=LENGTHS, width=None, seed=0):
    """Right-padded ids: row i has lengths[i] tokens in 1..VOCAB-1."""
    rng = np.random.default_rng(seed)
    width = width or max(lengths)
    ids = np.zeros((len(lengths), width), dtype="int32")
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, VOCAB, size=length)
    return ids


def pad_more(ids, extra):
    return np.pad(ids, ((0, 0), (0, extra)))


def test_registry_lists_required_models_with_descriptions():
    assert set(REQUIRED) <= set(models.names())
    assert models.names() == sorted(models.names())
    descriptions = models.describe()
    assert list(descriptions) == models.names()
    for text in descriptions.values():
        assert text and "\n" not in text


def test_default_hparams_is_a_copy():
    hp = models.default_hparams("lstm")
    hp["units"] = -1
    assert models.default_hparams("lstm")["units"] == 64


@pytest.mark.parametrize("name", [*REQUIRED, "ngram_bigru"])
def test_builds_fits_predicts_and_ignores_padding(name):
    model = models.build(name, VOCAB, CLASSES, **tiny(name))
    ids = make_ids()
    labels = np.array([0, 1, 2, 1])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    history = model.fit(ids, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    probabilities = model.predict(ids, verbose=0)
    assert probabilities.shape == (len(LENGTHS), CLASSES)
    assert probabilities.dtype == np.float32
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities >= 0).all()

    padded = model(pad_more(ids, 6), training=False)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(padded), probabilities, atol=1e-5
    )


@pytest.mark.parametrize("name", models.names())
def test_all_padding_row_is_finite_and_leaves_other_rows(name):
    """A text with no known token (all ids 0) in a batch."""
    model = models.build(name, VOCAB, CLASSES, **tiny(name))
    ids = make_ids()
    alone = keras.ops.convert_to_numpy(model(ids, training=False))
    with_empty = np.insert(ids, 1, 0, axis=0)
    together = keras.ops.convert_to_numpy(model(with_empty, training=False))
    assert np.isfinite(together).all(), together
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.delete(together, 1, axis=0), alone,
                               atol=1e-6)


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("lstm", {"pooling": "max", "num_layers": 2}),
        ("gru", {"pooling": "mean", "bidirectional": True}),
        ("simple_rnn", {"pooling": "attention"}),
        ("bilstm_bahdanau", {"attention_query": "last"}),
        ("bilstm_luong_dot", {"attention_query": "learned"}),
        ("bag_of_embeddings", {"hidden_activation": "prelu"}),
        ("transformer", {"positions": "sinusoidal", "pooling": "max"}),
        ("transformer", {"norm_first": True, "pooling": "attention"}),
    ],
)
def test_variants_ignore_padding(name, overrides):
    model = models.build(name, VOCAB, CLASSES, **tiny(name, **overrides))
    ids = make_ids()
    probabilities = keras.ops.convert_to_numpy(model(ids, training=False))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    padded = keras.ops.convert_to_numpy(model(pad_more(ids, 4), training=False))
    np.testing.assert_allclose(padded, probabilities, atol=1e-5)


@pytest.mark.parametrize(
    "name, hparams, message",
    [
        ("lstm", {"x": 1}, "unknown hyper-parameter 'x' for model 'lstm'"),
        ("lstm", {"units": "many"}, "'units' of model 'lstm' must be an int"),
        ("lstm", {"units": 2.5}, "must be an integer; got 2.5"),
        ("lstm", {"bidirectional": "maybe"}, "must be a boolean"),
        ("lstm", {"dropout": "high"}, "'dropout' .* must be a number"),
        ("lstm", {"units": 0}, r"'units' .* must be >= 1; got 0"),
        ("gru", {"dropout": 1.0}, r"must be in \[0.0, 1.0\); got 1.0"),
        ("lstm", {"pooling": "first"}, "must be one of last, max, mean"),
        ("transformer", {"positions": "rotary"}, "learned, sinusoidal"),
        ("transformer", {"num_heads": 3}, "divisible by num_heads=3"),
    ],
)
def test_invalid_hparams_raise_config_error(name, hparams, message):
    with pytest.raises(ConfigError, match=message):
        models.build(name, VOCAB, CLASSES, **hparams)


def test_unknown_key_lists_valid_names():
    with pytest.raises(ConfigError) as info:
        models.build("gru", VOCAB, CLASSES, hiden_units=8)
    for key in models.default_hparams("gru"):
        assert key in str(info.value)


def test_unknown_activation_lists_choices():
    with pytest.raises(ConfigError) as info:
        models.build("bilstm", VOCAB, CLASSES, hidden_activation="swishy")
    message = str(info.value)
    assert "'hidden_activation'" in message and "'swishy'" in message
    for choice in ("prelu", "gelu", "tanh", "relu", "sigmoid"):
        assert choice in message


def test_unknown_model_lists_names():
    with pytest.raises(ConfigError, match="unknown model 'lstmm'") as info:
        models.build("lstmm", VOCAB, CLASSES)
    for name in REQUIRED:
        assert name in str(info.value)
    with pytest.raises(ConfigError, match="unknown model"):
        models.default_hparams("lstmm")


@pytest.mark.parametrize(
    "vocab_size, num_classes, message",
    [
        (2, 2, "vocab_size must be >= 3; got 2"),
        (10, 1, "num_classes must be >= 2; got 1"),
        ("10", 2, "vocab_size must be an integer"),
    ],
)
def test_sizes_are_validated(vocab_size, num_classes, message):
    with pytest.raises(ConfigError, match=message):
        models.build("lstm", vocab_size, num_classes)


def test_strings_are_coerced_by_default_type():
    hp = models.resolve_hparams(
        "lstm",
        units="16",
        bidirectional="True",
        dropout="0.5",
        num_layers=" 2 ",
        pooling="mean",
    )
    assert hp["units"] == 16 and hp["num_layers"] == 2
    assert hp["bidirectional"] is True
    assert hp["dropout"] == 0.5 and isinstance(hp["dropout"], float)
    assert (
        models.resolve_hparams("gru", bidirectional="false")["bidirectional"]
        is False
    )
    assert models.resolve_hparams("gru", dropout=0)["dropout"] == 0.0

    model = models.build(
        "lstm", VOCAB, CLASSES, units="16", bidirectional="true", num_layers="2"
    )
    wrapped = model.get_layer("bilstm_2")
    assert isinstance(wrapped, keras.layers.Bidirectional)
    assert wrapped.forward_layer.units == 16


def test_cudnn_eligible_for_default_lstm_and_gru():
    for name in ("lstm", "gru"):
        model = models.build(name, VOCAB, CLASSES, **tiny(name))
        assert models.cudnn_eligible(model) == {f"{name}_1": True}
    bigru = models.cudnn_eligible(
        models.build("bigru", VOCAB, CLASSES, **tiny("bigru", num_layers=2))
    )
    assert len(bigru) == 4 and all(bigru.values())
    simple = models.build("simple_rnn", VOCAB, CLASSES, **tiny("simple_rnn"))
    assert models.cudnn_eligible(simple) == {}


def test_cudnn_not_eligible_with_recurrent_dropout():
    model = models.build(
        "lstm", VOCAB, CLASSES, **tiny("lstm", recurrent_dropout=0.1)
    )
    assert models.cudnn_eligible(model) == {"lstm_1": False}
    gru = keras.Sequential(
        [keras.Input((None, 4)), keras.layers.GRU(4, reset_after=False)]
    )
    assert list(models.cudnn_eligible(gru).values()) == [False]


@pytest.mark.parametrize("name", ["bilstm_luong_general", "transformer"])
def test_keras_file_round_trip_without_custom_objects(name, tmp_path):
    overrides = {"pooling": "max"} if name == "transformer" else {}
    model = models.build(name, VOCAB, CLASSES, **tiny(name, **overrides))
    ids = make_ids()
    expected = keras.ops.convert_to_numpy(model(ids, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded(ids, training=False)), expected
    )
    if name != "transformer":
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(models.attention_model(reloaded)(ids)),
            keras.ops.convert_to_numpy(models.attention_model(model)(ids)),
        )


# float16 keeps 11 significant bits (relative rounding about 5e-4 per
# operation); through embedding, BiLSTM and softmax the probabilities of
# this tiny model (weights ~ N(0, 0.5), so they are far from uniform)
# move by about 1e-4 from float32's.
MIXED_PRECISION_ATOL = 1e-3


def test_mixed_precision_keeps_float32_head_and_values():
    reference = models.build(
        "bilstm", VOCAB, CLASSES, **tiny("bilstm", pooling="max")
    )
    rng = np.random.default_rng(0)
    reference.set_weights([rng.normal(0, 0.5, w.shape).astype("float32")
                           for w in reference.get_weights()])
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = models.build(
            "bilstm", VOCAB, CLASSES, **tiny("bilstm", pooling="max")
        )
        model.set_weights(reference.get_weights())
        probabilities = model(make_ids(), training=False)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("bilstm_1").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
    probabilities = keras.ops.convert_to_numpy(probabilities)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    expected = keras.ops.convert_to_numpy(reference(make_ids(),
                                                    training=False))
    np.testing.assert_allclose(probabilities, expected,
                               atol=MIXED_PRECISION_ATOL)
    assert not np.array_equal(probabilities, expected)  # float16 did act


def test_register_adds_a_builder_in_one_function():
    name = "test_only_bag"

    @models.register(name, "test model", {
        "embedding_dim": models.HParam(4, "embedding size", low=1,
                                       search=(2, 8)),
    })
    def _build(ids, vocab_size, num_classes, hp):
        x = keras.layers.Embedding(
            vocab_size, hp["embedding_dim"], mask_zero=True
        )(ids)
        x = models.MaskedGlobalPooling1D("mean")(x)
        return keras.layers.Dense(num_classes, activation="softmax")(x)

    try:
        assert name in models.names()
        model = models.build(name, VOCAB, CLASSES, embedding_dim="6")
        assert model.output_shape == (None, CLASSES)
        with pytest.raises(ConfigError, match="'embedding_dim' .* >= 1"):
            models.build(name, VOCAB, CLASSES, embedding_dim=0)
        with pytest.raises(ValueError, match="already registered"):
            models.register(name, "again", {})(_build)
    finally:
        models.registry._REGISTRY.pop(name)
