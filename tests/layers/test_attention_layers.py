"""BahdanauAttention, LuongAttention and get_activation."""

import keras
import numpy as np
import pytest

from kerasseq.layers import (
    ACTIVATIONS,
    BahdanauAttention,
    LuongAttention,
    get_activation,
)

from .helpers import (
    check_layer,
    masked_softmax,
    randomize_weights,
    to_numpy,
    weights_by_name,
)


def self_attention(layer, x, mask=None, scores=False):
    return layer(
        x,
        x,
        query_mask=mask,
        value_mask=mask,
        return_attention_scores=scores,
    )


def np_additive_scores(query, key, w_query, w_key, bias, v, activation):
    hidden = (query @ w_query)[:, :, None] + (key @ w_key + bias)[:, None]
    return (activation(hidden) @ v)[..., 0]


def np_attention(scores, value, query_mask, value_mask):
    keep = query_mask[:, :, None] & value_mask[:, None, :]
    weights = masked_softmax(scores, keep)
    return weights @ value, weights


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    query = rng.standard_normal((3, 4, 5)).astype("float32")
    value = rng.standard_normal((3, 6, 5)).astype("float32")
    query_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]], bool)
    value_mask = np.array(
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 0]], bool
    )
    return query, value, query_mask, value_mask


@pytest.mark.parametrize(
    "init_kwargs",
    [{}, {"units": 6, "activation": "prelu", "use_bias": False}],
    ids=["default", "prelu"],
)
def test_bahdanau_attention_layer_checks(init_kwargs, tmp_path):
    check_layer(BahdanauAttention, init_kwargs, self_attention, tmp_path)


@pytest.mark.parametrize(
    "init_kwargs",
    [
        {"score": "dot", "scale": True},
        {"score": "general"},
        {"score": "concat", "units": 6, "activation": "relu"},
    ],
    ids=["dot", "general", "concat"],
)
def test_luong_attention_layer_checks(init_kwargs, tmp_path):
    check_layer(LuongAttention, init_kwargs, self_attention, tmp_path)


def test_bahdanau_attention_matches_numpy(batch):
    query, value, query_mask, value_mask = batch
    layer = BahdanauAttention(units=3)
    layer(query, value)
    randomize_weights(layer)
    weights = weights_by_name(layer)
    context, attention = layer(
        query,
        value,
        query_mask=query_mask,
        value_mask=value_mask,
        return_attention_scores=True,
    )
    scores = np_additive_scores(
        query,
        value,
        weights["query_dense/kernel"],
        weights["key_dense/kernel"],
        weights["key_dense/bias"],
        weights["score_dense/kernel"],
        np.tanh,
    )
    expected_context, expected_weights = np_attention(
        scores, value, query_mask, value_mask
    )
    np.testing.assert_allclose(to_numpy(attention), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), expected_context, atol=1e-5)


def test_bahdanau_attention_single_query_and_separate_key(batch):
    query, value, _, value_mask = batch
    key = np.random.default_rng(1).standard_normal((3, 6, 2)).astype("float32")
    layer = BahdanauAttention(units=3, activation="sigmoid")
    layer(query[:, 0], value, key=key)
    randomize_weights(layer)
    weights = weights_by_name(layer)
    context, attention = layer(
        query[:, 0],
        value,
        key=key,
        value_mask=value_mask,
        return_attention_scores=True,
    )
    assert tuple(context.shape) == (3, 5) and tuple(attention.shape) == (3, 6)
    scores = np_additive_scores(
        query[:, :1],
        key,
        weights["query_dense/kernel"],
        weights["key_dense/kernel"],
        weights["key_dense/bias"],
        weights["score_dense/kernel"],
        lambda h: 1 / (1 + np.exp(-h)),
    )
    expected_context, expected_weights = np_attention(
        scores, value, np.ones((3, 1), bool), value_mask
    )
    np.testing.assert_allclose(
        to_numpy(attention), expected_weights[:, 0], atol=1e-5
    )
    np.testing.assert_allclose(
        to_numpy(context), expected_context[:, 0], atol=1e-5
    )


@pytest.mark.parametrize(
    "score,scale",
    [
        ("dot", False),
        ("dot", True),
        ("general", False),
        ("general", True),
        ("concat", False),
    ],
)
def test_luong_attention_matches_numpy(batch, score, scale):
    query, value, query_mask, value_mask = batch
    layer = LuongAttention(score=score, scale=scale, units=3)
    layer(query, value)
    randomize_weights(layer)
    weights = weights_by_name(layer)
    if score == "dot":
        scores = query @ value.transpose(0, 2, 1)
    elif score == "general":
        w_general = weights["general_dense/kernel"]  # [Dk, Dq]
        scores = np.einsum("bqd,ed,bve->bqv", query, w_general, value)
    else:
        # W [q; k] with W = [W_q; W_k] stacked on the input axis.
        w = np.concatenate(
            [weights["query_dense/kernel"], weights["key_dense/kernel"]]
        )
        pairs = np.concatenate(
            np.broadcast_arrays(query[:, :, None], value[:, None]), axis=-1
        )
        scores = (np.tanh(pairs @ w) @ weights["score_dense/kernel"])[..., 0]
    if scale:
        scores = scores / np.sqrt(query.shape[-1])
    context, attention = layer(
        query,
        value,
        query_mask=query_mask,
        value_mask=value_mask,
        return_attention_scores=True,
    )
    expected_context, expected_weights = np_attention(
        scores, value, query_mask, value_mask
    )
    np.testing.assert_allclose(to_numpy(attention), expected_weights, atol=1e-5)
    np.testing.assert_allclose(to_numpy(context), expected_context, atol=1e-5)


def test_luong_dot_attention_agrees_with_keras_attention(batch):
    query, value, query_mask, value_mask = batch
    # keras.layers.Attention spreads a fully masked row uniformly; compare
    # on the rows that have values to attend to.
    rows = slice(0, 2)
    query, value = query[rows], value[rows]
    query_mask, value_mask = query_mask[rows], value_mask[rows]
    ours, our_weights = LuongAttention(score="dot")(
        query,
        value,
        query_mask=query_mask,
        value_mask=value_mask,
        return_attention_scores=True,
    )
    theirs, their_weights = keras.layers.Attention()(
        [query, value],
        mask=[query_mask, value_mask],
        return_attention_scores=True,
    )
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(our_weights)[query_mask],
        to_numpy(their_weights)[query_mask],
        atol=1e-5,
    )


def test_attention_output_mask_is_query_mask(batch):
    query, value, query_mask, _ = batch
    layer = BahdanauAttention()
    np.testing.assert_array_equal(
        to_numpy(layer.compute_mask(query, query_mask)), query_mask
    )
    assert layer.compute_mask(query[:, 0], None) is None


def test_attention_dropout_only_in_training(batch):
    query, value, _, _ = batch
    layer = LuongAttention(dropout=0.5, seed=1)
    inference = to_numpy(layer(query, value))
    np.testing.assert_array_equal(inference, to_numpy(layer(query, value)))
    assert not np.allclose(
        to_numpy(layer(query, value, training=True)), inference
    )


@pytest.mark.parametrize(
    "layer_cls,kwargs,message",
    [
        (BahdanauAttention, {"units": 0}, "units"),
        (BahdanauAttention, {"activation": "nope"}, "activation"),
        (BahdanauAttention, {"dropout": 1.5}, "dropout"),
        (LuongAttention, {"score": "cosine"}, "score"),
        (LuongAttention, {"score": "concat", "scale": True}, "scale"),
    ],
)
def test_attention_rejects_bad_arguments(layer_cls, kwargs, message):
    with pytest.raises(ValueError, match=f"Expected.*{message}.*Received"):
        layer_cls(**kwargs)


def test_luong_dot_attention_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="Expected query and key"):
        LuongAttention()(np.ones((1, 2, 3)), np.ones((1, 2, 4)))


@pytest.mark.parametrize("name", sorted(set(ACTIVATIONS) - {"prelu"}))
def test_attention_activation_names_are_keras_functions(name):
    assert get_activation(name) is keras.activations.get(name)


@pytest.mark.parametrize(
    "name,reference",
    [
        ("sigmoid", lambda x: 1 / (1 + np.exp(-x))),
        ("tanh", np.tanh),
        ("relu", lambda x: np.maximum(x, 0)),
        ("softmax", lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    ],
)
def test_attention_activation_values(name, reference):
    x = np.linspace(-2, 2, 6, dtype="float32")[None]
    np.testing.assert_allclose(
        to_numpy(get_activation(name)(x)), reference(x), atol=1e-6
    )


def test_attention_activation_prelu_is_a_fresh_layer_per_feature():
    activation = get_activation("prelu", rank=3)
    assert isinstance(activation, keras.layers.PReLU)
    assert get_activation("prelu") is not get_activation("prelu")
    output = activation(np.array([[[-2.0, 3.0]], [[1.0, -1.0]]], "float32"))
    np.testing.assert_allclose(to_numpy(output), [[[0.0, 3.0]], [[1.0, 0.0]]])
    assert tuple(activation.alpha.shape) == (1, 2)


def test_attention_activation_unknown_name_lists_choices():
    with pytest.raises(ValueError, match="sigmoid.*tanh.*Received.*swoosh"):
        get_activation("swoosh")
