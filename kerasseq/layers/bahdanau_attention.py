"""Additive (Bahdanau) attention."""

import keras
from keras import ops

from kerasseq.layers.activations import get_activation
from kerasseq.layers.base_attention import BaseAttention


def additive_scores(query_dense, key_dense, score_dense, activation, q, k):
    """`vᵀ act(W_q q + W_k k)` for every query/key pair: `[B, Tq, Tv]`."""
    projected_query = ops.expand_dims(query_dense(q), axis=2)
    projected_key = ops.expand_dims(key_dense(k), axis=1)
    hidden = activation(projected_query + projected_key)
    return ops.squeeze(score_dense(hidden), axis=-1)


@keras.saving.register_keras_serializable(package="kerasseq")
class BahdanauAttention(BaseAttention):
    """Additive attention of Bahdanau et al. (2015).

    The score of query `q` and key `k` is `vᵀ tanh(W_q q + W_k k + b)`;
    the weights are the softmax of the scores over the keys and the output
    is the weighted sum of the values. Masking follows `BaseAttention`:
    masked values get weight exactly 0, masked or fully padded query rows
    give zero weights and a zero context, and the output keeps the query's
    mask.

    Args:
        units: optional int, size of the hidden projection (`W_q`, `W_k`).
            Defaults to the query's feature size.
        activation: string, non-linearity applied to `W_q q + W_k k`, any
            name accepted by `kerasseq.layers.get_activation`. Defaults to
            `"tanh"`.
        use_bias: bool, whether `W_k k` has a bias `b`. Defaults to `True`.
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
    >>> layer = BahdanauAttention(units=8)
    >>> decoder_state = np.ones((2, 4), "float32")
    >>> encoder_states = np.ones((2, 5, 4), "float32")
    >>> context, weights = layer(
    ...     decoder_state, encoder_states, return_attention_scores=True
    ... )
    >>> tuple(context.shape), tuple(weights.shape)
    ((2, 4), (2, 5))

    References:
        - [Bahdanau et al., 2015](https://arxiv.org/abs/1409.0473)
    """

    def __init__(
        self,
        units=None,
        activation="tanh",
        use_bias=True,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(dropout=dropout, seed=seed, **kwargs)
        if units is not None and (not isinstance(units, int) or units < 1):
            raise ValueError(
                "Expected `units` to be a positive int or None. "
                f"Received: units={units}"
            )
        get_activation(activation)  # validates the name
        self.units = units
        self.activation = activation
        self.use_bias = use_bias

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        query_3d = (query_shape[0], None, query_shape[-1])
        units = self.units or query_shape[-1]
        self._query_dense = keras.layers.Dense(
            units, use_bias=False, dtype=self.dtype_policy, name="query_dense"
        )
        self._query_dense.build(query_3d)
        self._key_dense = keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            dtype=self.dtype_policy,
            name="key_dense",
        )
        self._key_dense.build(key_shape)
        self._activation_fn = get_activation(
            self.activation, rank=4, dtype=self.dtype_policy, name="activation"
        )
        if isinstance(self._activation_fn, keras.layers.Layer):
            self._activation_fn.build((None, None, None, units))
        self._score_dense = keras.layers.Dense(
            1, use_bias=False, dtype=self.dtype_policy, name="score_dense"
        )
        self._score_dense.build((None, None, None, units))
        self.built = True

    def _calculate_scores(self, query, key):
        return additive_scores(
            self._query_dense,
            self._key_dense,
            self._score_dense,
            self._activation_fn,
            query,
            key,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "activation": self.activation,
                "use_bias": self.use_bias,
            }
        )
        return config
