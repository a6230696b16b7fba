"""SinusoidalPositionEncoding and TokenAndPositionEmbedding."""

import keras
import numpy as np
import pytest

from kerasseq.layers import (
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
)

from .helpers import (
    PADDED_IDS,
    VOCAB,
    check_config,
    check_layer,
    check_saving,
    check_training,
    mixed_precision,
    to_numpy,
    toy_task,
)


def np_sinusoidal(steps, dim, max_wavelength=10000.0):
    encoding = np.zeros((steps, dim))
    for pos in range(steps):
        for i in range(0, dim, 2):
            angle = pos / max_wavelength ** (i / dim)
            encoding[pos, i] = np.sin(angle)
            if i + 1 < dim:
                encoding[pos, i + 1] = np.cos(angle)
    return encoding


def add_position(layer, x, mask=None, scores=False):
    return keras.layers.Add()([x, layer(x)])


@pytest.mark.parametrize("dim", [6, 7])
def test_sinusoidal_position_encoding_formula(dim):
    x = np.zeros((2, 9, dim), "float32")
    encoding = SinusoidalPositionEncoding(max_length=9)(x)
    expected = np.broadcast_to(np_sinusoidal(9, dim), x.shape)
    np.testing.assert_allclose(to_numpy(encoding), expected, atol=1e-5)
    encoding = SinusoidalPositionEncoding(max_wavelength=100.0)(x)
    np.testing.assert_allclose(
        to_numpy(encoding)[0], np_sinusoidal(9, dim, 100.0), atol=1e-5
    )


def test_sinusoidal_position_layer_checks(tmp_path):
    check_layer(
        SinusoidalPositionEncoding,
        {"max_length": 16, "max_wavelength": 100.0},
        add_position,
        tmp_path,
        zeros_at_padding=False,
        has_scores=False,
    )


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_token_and_position_embedding_layer_checks(positions, tmp_path):
    init_kwargs = {
        "vocab_size": VOCAB,
        "max_length": 12,
        "embedding_dim": 8,
        "positions": positions,
    }
    check_config(TokenAndPositionEmbedding, init_kwargs)
    keras.utils.set_random_seed(0)
    layer = TokenAndPositionEmbedding(**init_kwargs)
    ids = keras.Input((None,), dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(layer(ids))
    outputs = keras.layers.Dense(2, activation="softmax")(pooled)
    model = keras.Model(ids, outputs)
    data, labels = toy_task()
    extra = np.pad(data[:8], ((0, 0), (0, 3)))
    np.testing.assert_allclose(
        to_numpy(model(extra)), to_numpy(model(data[:8])), atol=1e-5
    )
    check_training(model, layer, data, labels)
    check_saving(model, data[:8], tmp_path)

    mask = to_numpy(layer.compute_mask(PADDED_IDS))
    np.testing.assert_array_equal(mask, PADDED_IDS != 0)
    with mixed_precision():
        mixed = TokenAndPositionEmbedding(**init_kwargs)
        output = to_numpy(mixed(PADDED_IDS))
        assert output.dtype == np.float16 and np.all(np.isfinite(output))


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_token_and_position_embedding_matches_numpy(positions):
    layer = TokenAndPositionEmbedding(
        vocab_size=VOCAB, max_length=7, embedding_dim=4, positions=positions
    )
    output = to_numpy(layer(PADDED_IDS))
    tables = {w.path.split("/", 1)[1]: to_numpy(w) for w in layer.weights}
    token_table = tables["token_embedding/embeddings"]
    if positions == "learned":
        position_table = tables["position_embedding/embeddings"][:5]
    else:
        assert len(tables) == 1
        position_table = np_sinusoidal(5, 4)
    expected = token_table[PADDED_IDS] + position_table
    np.testing.assert_allclose(output, expected, atol=1e-6)
    extended = to_numpy(layer(np.pad(PADDED_IDS, ((0, 0), (0, 2)))))
    np.testing.assert_allclose(extended[:, :5], output, atol=1e-6)


def test_token_and_position_embedding_without_mask_zero():
    layer = TokenAndPositionEmbedding(VOCAB, 8, 4, mask_zero=False)
    assert layer.compute_mask(PADDED_IDS) is None


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: TokenAndPositionEmbedding(VOCAB, 4, 3),
        lambda: TokenAndPositionEmbedding(VOCAB, 4, 3, positions="sinusoidal"),
    ],
    ids=["learned", "sinusoidal"],
)
def test_position_embedding_rejects_too_long_sequences(make_layer):
    with pytest.raises(
        ValueError,
        match=r"Expected sequence length <= max_length=4.*Received.*5",
    ):
        make_layer()(PADDED_IDS)


def test_sinusoidal_position_encoding_rejects_too_long_sequences():
    with pytest.raises(ValueError, match="max_length=3.*Received.*length=4"):
        SinusoidalPositionEncoding(max_length=3)(np.zeros((1, 4, 2)))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"vocab_size": 0, "max_length": 4, "embedding_dim": 2}, "vocab_size"),
        (
            {"vocab_size": 5, "max_length": None, "embedding_dim": 2},
            "max_length",
        ),
        (
            {
                "vocab_size": 5,
                "max_length": 4,
                "embedding_dim": 2,
                "positions": "rotary",
            },
            "positions",
        ),
    ],
)
def test_position_embedding_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"Expected.*{message}.*Received"):
        TokenAndPositionEmbedding(**kwargs)
