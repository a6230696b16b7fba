"""Shared checks for kerasseq layers (in the spirit of keras-hub's TestCase).

`check_layer` runs, for a layer applied to an embedded, right-padded
sequence: config round trip, `.keras` save/reload without custom objects,
training (every trainable weight moves, loss falls), masking and mixed
precision. `check_id_layer` runs the same checks but mixed precision for a
layer taking right-padded int ids. The NumPy helpers are the independent
references of the math tests.
"""

import contextlib

import keras
import numpy as np
import pytest
from keras import ops

VOCAB = 12
DIM = 8
SIGNAL_TOKEN = 3

# Right padded: a full row, a partial row and a fully padded row.
PADDED_IDS = np.array(
    [[4, 5, 6, 7, 8], [9, 3, 2, 0, 0], [0, 0, 0, 0, 0]], dtype="int32"
)


def to_numpy(x):
    return ops.convert_to_numpy(x)


def plain(x):
    """A copy of `x` without the Keras mask attached."""
    return ops.convert_to_tensor(to_numpy(x))


def weights_by_name(layer):
    """`{"sublayer/weight": array}` with the layer's own name stripped."""
    return {w.path.split("/", 1)[1]: to_numpy(w) for w in layer.weights}


def randomize_weights(layer, seed=0, scale=0.5):
    """Assigns fixed random values to every weight of a built layer."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(scale * rng.standard_normal(weight.shape))


def masked_softmax(scores, keep):
    """Softmax over the last axis; masked entries and empty rows get 0."""
    keep = np.broadcast_to(keep, scores.shape)
    shifted = np.where(keep, scores, -np.inf)
    row_max = np.max(np.where(keep, scores, -1e30), axis=-1, keepdims=True)
    exps = np.where(keep, np.exp(shifted - row_max), 0.0)
    total = exps.sum(axis=-1, keepdims=True)
    return exps / np.where(total == 0, 1.0, total)


@contextlib.contextmanager
def mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def toy_task(samples=32, steps=6, seed=0):
    """Right-padded ids; label 1 when `SIGNAL_TOKEN` occurs."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((samples, steps), dtype="int32")
    for row in range(samples):
        length = rng.integers(2, steps + 1)
        ids[row, :length] = rng.integers(4, VOCAB, size=length)
        if row % 2:
            ids[row, rng.integers(0, length)] = SIGNAL_TOKEN
    labels = (ids == SIGNAL_TOKEN).any(axis=1).astype("int32")
    return ids, labels


def classifier(layer, apply, pooled):
    """Embedding(mask_zero) -> layer -> (masked mean) -> softmax head."""
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)(ids)
    x = apply(layer, x)
    if not pooled:
        x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax", dtype="float32")(x)
    return keras.Model(ids, outputs)


def check_config(layer_cls, init_kwargs):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert config[key] == value, key
    assert layer_cls.from_config(config).get_config() == config


def check_saving(model, ids, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(to_numpy(model(ids)), to_numpy(reloaded(ids)))
    return reloaded


def check_vocabulary_tables_saved(layer, vocabulary, ids, tmp_path):
    """A layer filled by ``adapt_to_vocabulary`` (int tables) gives the
    same ids after a `.keras` save/reload and has nothing to train."""
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, layer(inputs))
    layer.adapt_to_vocabulary(vocabulary)
    reloaded = check_saving(model, ids, tmp_path)
    assert not reloaded.get_layer(layer.name).trainable_weights


def check_training(model, layer, ids, labels):
    """A few optimizer steps move every trainable weight and cut the loss."""
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss="sparse_categorical_crossentropy",
        jit_compile=False,
    )
    loss_before = model.evaluate(ids, labels, verbose=0)
    before = [to_numpy(w) for w in layer.trainable_weights]
    model.fit(ids, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    loss_after = model.evaluate(ids, labels, verbose=0)
    for weight, old in zip(layer.trainable_weights, before, strict=True):
        assert not np.array_equal(to_numpy(weight), old), weight.path
    assert loss_after < loss_before


def _key_mask(mask, scores):
    """Broadcasts a `[B, T]` key mask to scores `[B, ..., T]`."""
    shape = (mask.shape[0],) + (1,) * (scores.ndim - 2) + (mask.shape[1],)
    return np.reshape(mask, shape)


def check_masks(make_layer, apply, pooled, zeros_at_padding, has_scores):
    """Implicit == explicit mask, padding weight 0, extra padding inert."""
    layer = make_layer()
    embedding = keras.layers.Embedding(VOCAB, DIM, mask_zero=True)
    mask = PADDED_IDS != 0
    implicit = to_numpy(apply(layer, embedding(PADDED_IDS)))
    explicit = to_numpy(apply(layer, plain(embedding(PADDED_IDS)), mask))
    np.testing.assert_allclose(implicit, explicit, atol=1e-6)
    assert np.all(np.isfinite(explicit))

    extra = np.pad(PADDED_IDS, ((0, 0), (0, 3)))
    extended = to_numpy(apply(layer, plain(embedding(extra)), extra != 0))
    if pooled:
        np.testing.assert_allclose(extended, explicit, atol=1e-5)
        if zeros_at_padding:
            assert np.all(explicit[~mask.any(axis=1)] == 0)
    else:
        np.testing.assert_allclose(
            extended[:, : mask.shape[1]][mask], explicit[mask], atol=1e-5
        )
        if zeros_at_padding:
            assert np.all(explicit[~mask] == 0)

    if has_scores:
        _, scores = apply(
            layer, plain(embedding(extra)), extra != 0, scores=True
        )
        scores = to_numpy(scores)
        padded = np.broadcast_to(~_key_mask(extra != 0, scores), scores.shape)
        assert np.all(scores[padded] == 0)
        kept = ~padded
        assert np.all(np.isfinite(scores)) and np.all(scores[kept] >= 0)


def check_mixed_precision(make_layer, apply, float32_scores, has_scores):
    mask = PADDED_IDS != 0
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal(PADDED_IDS.shape + (DIM,)).astype("float16")
    with mixed_precision():
        layer = make_layer()
        result = apply(layer, ops.convert_to_tensor(inputs), mask, scores=True)
        output, scores = result if has_scores else (result, None)
        assert layer.compute_dtype == "float16"
        assert np.all(np.isfinite(to_numpy(output).astype("float32")))
        if has_scores:
            if float32_scores:
                assert ops.dtype(scores) == "float32"
            scores = to_numpy(scores).astype("float32")
            assert np.all(np.isfinite(scores))
            padded = np.broadcast_to(~_key_mask(mask, scores), scores.shape)
            assert np.all(scores[padded] == 0)


def check_layer(
    layer_cls,
    init_kwargs,
    apply,
    tmp_path,
    *,
    pooled=False,
    zeros_at_padding=True,
    has_scores=True,
    float32_scores=True,
):
    """All shared checks for a layer taking an embedded sequence.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        apply: `apply(layer, x, mask=None, scores=False)` calls the layer on
            `x` `[B, T, DIM]` (mask `[B, T]` explicit when given) and returns
            its output, plus the attention weights when `scores=True`.
        tmp_path: pytest's `tmp_path`.
        pooled: whether the output is `[B, D]` (else `[B, T, D]`).
        zeros_at_padding: whether padded outputs must be exactly 0.
        has_scores: whether the layer returns attention weights.
        float32_scores: whether the weights stay float32 under mixed
            precision.
    """
    check_config(layer_cls, init_kwargs)

    def make_layer():
        return layer_cls(**init_kwargs)

    keras.utils.set_random_seed(0)
    layer = make_layer()
    model = classifier(layer, apply, pooled)
    ids, labels = toy_task()
    # Extra trailing padding must not change the prediction: the mask
    # reaches every layer of the functional model.
    extra = np.pad(ids[:8], ((0, 0), (0, 3)))
    np.testing.assert_allclose(
        to_numpy(model(extra)), to_numpy(model(ids[:8])), atol=1e-5
    )
    check_training(model, layer, ids, labels)
    check_saving(model, ids[:8], tmp_path)
    check_masks(make_layer, apply, pooled, zeros_at_padding, has_scores)
    check_mixed_precision(make_layer, apply, float32_scores, has_scores)


def embedding_head(ids, input_dim=100):
    """Embedding -> mean -> softmax over 2 classes, for layers emitting ids
    below `input_dim`."""
    x = keras.layers.Embedding(input_dim, 4)(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.layers.Dense(2, activation="softmax")(x)


def check_training_needs_adapting(make_layer, adapt, head, ids, labels,
                                  tmp_path):
    """Fitting ``ids -> make_layer() -> head`` raises until ``adapt(layer)``
    (or loading adapted weights into the layer) has set its tables."""
    from kerasseq.errors import ConfigError

    def fit(layer):
        inputs = keras.Input((None,), dtype="int32")
        model = keras.Model(inputs, head(layer(inputs)))
        model.compile("adam", "sparse_categorical_crossentropy",
                      jit_compile=False)
        model.fit(ids, labels, epochs=1, verbose=0)
        return model

    layer = make_layer()
    name = type(layer).__name__
    with pytest.raises(ConfigError, match=f"Expected {name} .* adapted with"):
        fit(layer)
    layer = make_layer()
    adapt(layer)
    fit(layer).save(tmp_path / "adapted.keras")
    keras.models.load_model(tmp_path / "adapted.keras").fit(
        ids, labels, epochs=1, verbose=0
    )
    copy = make_layer()
    copy.build((None, None))
    copy.set_weights(layer.get_weights())
    fit(copy)


def masked_mean_head(input_dim):
    """``ids -> Embedding(mask_zero) -> masked mean -> softmax``, for
    layers emitting ids below `input_dim` (0 = padding)."""
    from kerasseq.layers import MaskedGlobalPooling1D

    def head(ids):
        x = keras.layers.Embedding(input_dim, DIM, mask_zero=True)(ids)
        x = MaskedGlobalPooling1D("mean")(x)
        return keras.layers.Dense(2, activation="softmax", dtype="float32")(
            x
        )

    return head


def check_id_layer(layer_cls, init_kwargs, head, tmp_path, *, apply=None,
                   adapt=None):
    """All shared checks for a layer taking right-padded int ids ``[B, T]``.

    Config round trip; on the model ``ids -> apply(layer, ids) -> head``:
    extra trailing padding leaves the prediction unchanged, a fully padded
    row gives a finite one, training moves every trainable weight of the
    layer and cuts the loss, and a `.keras` save/reload predicts the same.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        head: maps the layer's output tensor to class probabilities.
        tmp_path: pytest's `tmp_path`.
        apply: optional `apply(layer, ids)`, how the model calls the
            layer; defaults to `layer(ids)`.
        adapt: optional `adapt(layer, ids, labels)` run before fitting (the
            `AdaptedLayer` hooks).
    """
    check_config(layer_cls, init_kwargs)
    keras.utils.set_random_seed(0)
    layer = layer_cls(**init_kwargs)
    ids_input = keras.Input((None,), dtype="int32")
    apply = apply or (lambda layer, ids: layer(ids))
    model = keras.Model(ids_input, head(apply(layer, ids_input)))
    ids, labels = toy_task()
    if adapt is not None:
        adapt(layer, ids, labels)
    extra = np.pad(ids[:8], ((0, 0), (0, 3)))
    np.testing.assert_allclose(
        to_numpy(model(extra)), to_numpy(model(ids[:8])), atol=1e-5
    )
    assert np.all(np.isfinite(to_numpy(model(PADDED_IDS))))
    check_training(model, layer, ids, labels)
    check_saving(model, ids[:8], tmp_path)
