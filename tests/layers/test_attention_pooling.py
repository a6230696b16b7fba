"""AttentionPooling."""

import numpy as np
import pytest

from kerasseq.layers import AttentionPooling

from .helpers import (
    check_layer,
    masked_softmax,
    randomize_weights,
    to_numpy,
    weights_by_name,
)


def pool(layer, x, mask=None, scores=False):
    return layer(x, mask=mask, return_attention_scores=scores)


@pytest.mark.parametrize(
    "init_kwargs",
    [
        {},
        {"score": "dot", "query": "last", "scale": True},
        {"score": "general"},
        {"score": "concat", "query": "last", "activation": "gelu"},
    ],
    ids=["additive-learned", "dot-last", "general-learned", "concat-last"],
)
def test_attention_pooling_layer_checks(init_kwargs, tmp_path):
    check_layer(AttentionPooling, init_kwargs, pool, tmp_path, pooled=True)


def np_pooling(inputs, mask, score, query, weights):
    if query == "learned":
        q = np.broadcast_to(weights["query_vector"], inputs[:, 0].shape)
    else:
        last = np.maximum(mask.sum(axis=1) - 1, 0)
        q = inputs[np.arange(len(inputs)), last]
    if score == "additive":
        hidden = np.tanh(
            (q @ weights["attention/query_dense/kernel"])[:, None]
            + inputs @ weights["attention/key_dense/kernel"]
            + weights["attention/key_dense/bias"]
        )
        scores = (hidden @ weights["attention/score_dense/kernel"])[..., 0]
    elif score == "dot":
        scores = np.einsum("bd,btd->bt", q, inputs)
    elif score == "general":
        w = weights["attention/general_dense/kernel"]
        scores = np.einsum("bd,ed,bte->bt", q, w, inputs)
    else:
        hidden = np.tanh(
            (q @ weights["attention/query_dense/kernel"])[:, None]
            + inputs @ weights["attention/key_dense/kernel"]
        )
        scores = (hidden @ weights["attention/score_dense/kernel"])[..., 0]
    attention = masked_softmax(scores, mask)
    return np.einsum("bt,btd->bd", attention, inputs), attention


@pytest.mark.parametrize("score", ["additive", "dot", "general", "concat"])
@pytest.mark.parametrize("query", ["learned", "last"])
def test_attention_pooling_matches_numpy(score, query):
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((3, 5, 4)).astype("float32")
    mask = np.array(
        [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=bool
    )
    layer = AttentionPooling(score=score, query=query, units=3)
    layer(inputs)
    randomize_weights(layer)
    pooled, attention = layer(inputs, mask=mask, return_attention_scores=True)
    expected_pooled, expected_attention = np_pooling(
        inputs, mask, score, query, weights_by_name(layer)
    )
    assert tuple(pooled.shape) == (3, 4) and tuple(attention.shape) == (3, 5)
    np.testing.assert_allclose(
        to_numpy(attention), expected_attention, atol=1e-5
    )
    np.testing.assert_allclose(to_numpy(pooled), expected_pooled, atol=1e-5)


def test_attention_pooling_last_query_without_mask_uses_final_step():
    rng = np.random.default_rng(2)
    inputs = rng.standard_normal((2, 3, 4)).astype("float32")
    pooled, attention = AttentionPooling(score="dot", query="last")(
        inputs, return_attention_scores=True
    )
    scores = np.einsum("bd,btd->bt", inputs[:, -1], inputs)
    expected = masked_softmax(scores, np.ones((2, 3), bool))
    np.testing.assert_allclose(to_numpy(attention), expected, atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(pooled), np.einsum("bt,btd->bd", expected, inputs), atol=1e-5
    )


def test_attention_pooling_has_no_output_mask():
    layer = AttentionPooling()
    assert layer.compute_mask(np.ones((1, 2, 3)), np.ones((1, 2), bool)) is None


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"score": "cosine"}, "score"),
        ({"query": "first"}, "query"),
        ({"scale": True}, "scale"),
        ({"activation": "nope"}, "activation"),
    ],
)
def test_attention_pooling_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=f"Expected.*{message}.*Received"):
        AttentionPooling(**kwargs)


def test_attention_pooling_rejects_2d_input():
    with pytest.raises(ValueError, match="Expected a 3D input"):
        AttentionPooling()(np.ones((2, 3), "float32"))
