"""Multiplicative (Luong) attention: dot, general and concat scores."""

import math

import keras
from keras import ops

from kerasseq.layers.activations import get_activation
from kerasseq.layers.bahdanau_attention import additive_scores
from kerasseq.layers.base_attention import BaseAttention

SCORES = ("dot", "general", "concat")


@keras.saving.register_keras_serializable(package="kerasseq")
class LuongAttention(BaseAttention):
    """Global attention of Luong et al. (2015) with its three score forms.

    For query `q` and key `k` the score is

    - `"dot"`: `qᵀ k` (query and key must have the same size);
    - `"general"`: `qᵀ W k`;
    - `"concat"`: `vᵀ tanh(W [q; k])`, computed as
      `vᵀ tanh(W_q q + W_k k)` with `W = [W_q, W_k]`, no bias.

    With `scale=True`, `"dot"` and `"general"` scores are divided by
    `sqrt(d)`, `d` the query size (scaled dot-product attention of Vaswani
    et al., 2017). Weights are the softmax of the scores over the keys.
    Masking follows `BaseAttention`: masked values get weight exactly 0,
    masked or fully padded query rows give zero weights and a zero
    context, and the output keeps the query's mask.

    Args:
        score: string, `"dot"`, `"general"` or `"concat"`. Defaults to
            `"dot"`.
        scale: bool, divide `"dot"`/`"general"` scores by `sqrt(d)`.
            Defaults to `False`.
        units: optional int, hidden size of the `"concat"` score; defaults
            to the query size. Only used by `"concat"`.
        activation: string, non-linearity of the `"concat"` score, any name
            accepted by `kerasseq.layers.get_activation`. Defaults to
            `"tanh"`.
        dropout: float, dropout rate on the attention weights. Defaults to
            `0.0`.
        seed: optional int, seed of the dropout.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        query: `[B, Tq, Dq]`, or `[B, Dq]` for one query per example.
        value: `[B, Tv, Dv]`.
        key: optional `[B, Tv, Dk]`; defaults to `value`.
        query_mask: optional `[B, Tq]` boolean mask; filled by Keras from
            the query's mask when not given.
        value_mask: optional `[B, Tv]` boolean mask; filled by Keras from
            the value's mask when not given.
        return_attention_scores: bool, also return the float32 weights
            `[B, Tq, Tv]` (`[B, Tv]` for a 2D query).
        training: bool, whether dropout is active.

    Example:

    >>> import numpy as np
    >>> layer = LuongAttention(score="general")
    >>> decoder_states = np.ones((2, 3, 4), "float32")
    >>> encoder_states = np.ones((2, 5, 4), "float32")
    >>> tuple(layer(decoder_states, encoder_states).shape)
    (2, 3, 4)

    References:
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        score="dot",
        scale=False,
        units=None,
        activation="tanh",
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if score not in SCORES:
            raise ValueError(
                f"Expected `score` to be one of {', '.join(SCORES)}. "
                f"Received: score={score!r}"
            )
        if scale and score == "concat":
            raise ValueError(
                "Expected `scale=False` with `score='concat'` (scaling "
                "applies to 'dot' and 'general'). Received: scale=True"
            )
        if units is not None and (not isinstance(units, int) or units < 1):
            raise ValueError(
                "Expected `units` to be a positive int or None. "
                f"Received: units={units}"
            )
        get_activation(activation)  # validates the name
        self.score = score
        self.scale = scale
        self.units = units
        self.activation = activation

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        query_dim = query_shape[-1]
        if self.score == "dot" and query_dim != key_shape[-1]:
            raise ValueError(
                "Expected query and key of the same feature size for "
                f"score='dot'. Received: query_shape={tuple(query_shape)}, "
                f"key_shape={tuple(key_shape)}"
            )
        if self.score == "general":
            self._general_dense = keras.layers.Dense(
                query_dim,
                use_bias=False,
                dtype=self.dtype_policy,
                name="general_dense",
            )
            self._general_dense.build(key_shape)
        if self.score == "concat":
            units = self.units or query_dim
            self._query_dense = keras.layers.Dense(
                units,
                use_bias=False,
                dtype=self.dtype_policy,
                name="query_dense",
            )
            self._query_dense.build((query_shape[0], None, query_dim))
            self._key_dense = keras.layers.Dense(
                units, use_bias=False, dtype=self.dtype_policy, name="key_dense"
            )
            self._key_dense.build(key_shape)
            self._activation_fn = get_activation(
                self.activation,
                rank=4,
                dtype=self.dtype_policy,
                name="activation",
            )
            if isinstance(self._activation_fn, keras.layers.Layer):
                self._activation_fn.build((None, None, None, units))
            self._score_dense = keras.layers.Dense(
                1, use_bias=False, dtype=self.dtype_policy, name="score_dense"
            )
            self._score_dense.build((None, None, None, units))
        self._inverse_sqrt_dim = 1.0 / math.sqrt(query_dim)
        self.built = True

    def _calculate_scores(self, query, key):
        if self.score == "concat":
            return additive_scores(
                self._query_dense,
                self._key_dense,
                self._score_dense,
                self._activation_fn,
                query,
                key,
            )
        if self.score == "general":
            key = self._general_dense(key)
        scores = ops.matmul(query, ops.swapaxes(key, -2, -1))
        if self.scale:
            scores = scores * ops.cast(self._inverse_sqrt_dim, scores.dtype)
        return scores

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "score": self.score,
                "scale": self.scale,
                "units": self.units,
                "activation": self.activation,
            }
        )
        return config
