"""TransformerEncoderBlock."""

import numpy as np
import pytest

from kerasseq.layers import TransformerEncoderBlock

from .helpers import (
    check_layer,
    masked_softmax,
    randomize_weights,
    to_numpy,
    weights_by_name,
)


def encode(layer, x, mask=None, scores=False):
    return layer(x, mask=mask, return_attention_scores=scores)


@pytest.mark.parametrize(
    "init_kwargs",
    [
        {"num_heads": 2, "intermediate_dim": 16},
        {
            "num_heads": 2,
            "intermediate_dim": 16,
            "norm_first": True,
            "activation": "gelu",
            "dropout": 0.1,
        },
    ],
    ids=["post-ln", "pre-ln"],
)
def test_transformer_layer_checks(init_kwargs, tmp_path):
    check_layer(
        TransformerEncoderBlock,
        init_kwargs,
        encode,
        tmp_path,
        zeros_at_padding=False,
        float32_scores=False,
    )


def np_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon) * gamma + beta


def np_transformer_block(x, mask, w, norm_first, epsilon):
    def mha(h):
        def project(name):
            kernel = w[f"self_attention/{name}/kernel"]  # [D, H, K]
            return (
                np.einsum("btd,dhk->bthk", h, kernel)
                + w[f"self_attention/{name}/bias"]
            )

        q, k, v = project("query"), project("key"), project("value")
        scores = np.einsum("bthk,bshk->bhts", q, k) / np.sqrt(q.shape[-1])
        keep = (mask[:, :, None] & mask[:, None, :])[:, None]
        attention = masked_softmax(scores, keep)
        heads = np.einsum("bhts,bshk->bthk", attention, v)
        output = np.einsum(
            "bthk,hkd->btd", heads, w["self_attention/attention_output/kernel"]
        )
        return output + w["self_attention/attention_output/bias"], attention

    def norm(h, name):
        return np_layer_norm(h, w[f"{name}/gamma"], w[f"{name}/beta"], epsilon)

    def feedforward(h):
        hidden = np.maximum(
            h @ w["intermediate_dense/kernel"] + w["intermediate_dense/bias"],
            0,
        )
        return hidden @ w["output_dense/kernel"] + w["output_dense/bias"]

    if norm_first:
        attended, attention = mha(norm(x, "attention_norm"))
        x = x + attended
        return x + feedforward(norm(x, "feedforward_norm")), attention
    attended, attention = mha(x)
    x = norm(x + attended, "attention_norm")
    return norm(x + feedforward(x), "feedforward_norm"), attention


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_block_matches_numpy(norm_first):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 6)).astype("float32")
    mask = np.array(
        [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], dtype=bool
    )
    layer = TransformerEncoderBlock(
        num_heads=2,
        intermediate_dim=7,
        key_dim=4,
        norm_first=norm_first,
        layer_norm_epsilon=1e-3,
    )
    layer(x)
    randomize_weights(layer)
    output, attention = layer(x, mask=mask, return_attention_scores=True)
    expected, expected_attention = np_transformer_block(
        x, mask, weights_by_name(layer), norm_first, 1e-3
    )
    assert tuple(attention.shape) == (3, 2, 5, 5)
    np.testing.assert_allclose(
        to_numpy(attention), expected_attention, atol=1e-5
    )
    np.testing.assert_allclose(to_numpy(output), expected, atol=1e-5)


def test_transformer_blocks_stack_and_combine_attention_mask():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6)).astype("float32")
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=bool)
    causal = np.tril(np.ones((4, 4), bool))[None].repeat(2, axis=0)
    first = TransformerEncoderBlock(num_heads=3, intermediate_dim=8)
    second = TransformerEncoderBlock(num_heads=3, intermediate_dim=8)
    hidden = first(x, mask=mask)
    output, attention = second(
        hidden, mask=mask, attention_mask=causal, return_attention_scores=True
    )
    assert tuple(output.shape) == (2, 4, 6)
    attention = to_numpy(attention)
    allowed = (causal & mask[:, None, :] & mask[:, :, None])[:, None]
    assert np.all(attention[~np.broadcast_to(allowed, attention.shape)] == 0)
    np.testing.assert_allclose(attention[0].sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"num_heads": 0, "intermediate_dim": 4}, "num_heads"),
        ({"num_heads": 2, "intermediate_dim": None}, "intermediate_dim"),
        ({"num_heads": 2, "intermediate_dim": 4, "key_dim": 0}, "key_dim"),
        ({"num_heads": 2, "intermediate_dim": 4, "dropout": 1.0}, "dropout"),
        (
            {"num_heads": 2, "intermediate_dim": 4, "activation": "x"},
            "activation",
        ),
    ],
)
def test_transformer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"Expected.*{message}.*Received"):
        TransformerEncoderBlock(**kwargs)


def test_transformer_rejects_more_heads_than_features():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoderBlock(num_heads=8, intermediate_dim=4)(
            np.ones((1, 2, 4), "float32")
        )
