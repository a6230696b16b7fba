"""Transformer encoder block: self-attention and feed-forward sublayers."""

import keras
from keras import ops

from kerasseq.layers.activations import get_activation


@keras.saving.register_keras_serializable(package="kerasseq")
class TransformerEncoderBlock(keras.layers.Layer):
    """One encoder block of Vaswani et al. (2017).

    `keras.layers.MultiHeadAttention` self-attention, then a position-wise
    feed-forward network `Dense(intermediate_dim, activation) ->
    Dense(D)`, each with dropout, a residual connection and layer
    normalization. Post-LN (`norm_first=False`, the original):
    `x = LN(x + Drop(MHA(x)))`, `y = LN(x + Drop(FF(x)))`. Pre-LN
    (`norm_first=True`, Xiong et al., 2020):
    `x = x + Drop(MHA(LN(x)))`, `y = x + Drop(FF(LN(x)))`.

    Padded steps (from the input's mask, e.g. `Embedding(mask_zero=True)`,
    or the `mask` argument) are never attended to; outputs at padded steps
    are finite but meaningless, and the output keeps the input's mask.
    Blocks stack: `[B, T, D] -> [B, T, D]`.

    Args:
        num_heads: int, number of attention heads.
        intermediate_dim: int, hidden size of the feed-forward network.
        dropout: float in `[0, 1)`, dropout rate after attention and
            feed-forward (and on the attention weights). Defaults to `0.0`.
        activation: string, non-linearity of the feed-forward network, any
            name accepted by `kerasseq.layers.get_activation`. Defaults to
            `"relu"`.
        norm_first: bool, pre-LN when `True`. Defaults to `False`.
        layer_norm_epsilon: float, epsilon of the layer normalizations.
            Defaults to `1e-5`.
        key_dim: optional int, size of each head's query/key; defaults to
            `D // num_heads`.
        kernel_initializer: initializer of the dense kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the biases. Defaults to `"zeros"`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: `[B, T, D]` sequence.
        mask: optional `[B, T]` boolean padding mask; filled by Keras from
            the input's mask when not given.
        attention_mask: optional `[B, T, T]` boolean mask, combined with the
            padding mask (e.g. to restrict attention windows).
        training: bool, whether dropout is active.
        return_attention_scores: bool; if `True`, also return the attention
            weights `[B, num_heads, T, T]`.

    Example:

    >>> import numpy as np
    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=16)
    >>> tuple(block(np.ones((2, 5, 8), "float32")).shape)
    (2, 5, 8)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Xiong et al., 2020](https://arxiv.org/abs/2002.04745)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        activation="relu",
        norm_first=False,
        layer_norm_epsilon=1e-5,
        key_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg_name, arg in (
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
        ):
            if not isinstance(arg, int) or arg < 1:
                raise ValueError(
                    f"Expected `{arg_name}` to be a positive int. "
                    f"Received: {arg_name}={arg!r}"
                )
        if key_dim is not None and (
            not isinstance(key_dim, int) or key_dim < 1
        ):
            raise ValueError(
                "Expected `key_dim` to be a positive int or None. "
                f"Received: key_dim={key_dim!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                "Expected `dropout` to be a float in [0, 1). "
                f"Received: dropout={dropout}"
            )
        get_activation(activation)  # validates the name
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.norm_first = norm_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = key_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def _initializers(self):
        """Fresh initializer copies, one per sublayer."""
        return {
            "kernel_initializer": self.kernel_initializer.from_config(
                self.kernel_initializer.get_config()
            ),
            "bias_initializer": self.bias_initializer.from_config(
                self.bias_initializer.get_config()
            ),
        }

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        key_dim = self.key_dim or hidden_dim // self.num_heads
        if key_dim < 1:
            raise ValueError(
                "Expected the feature size to be >= num_heads when `key_dim` "
                f"is None. Received: feature size={hidden_dim}, "
                f"num_heads={self.num_heads}"
            )
        self._self_attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout,
            dtype=self.dtype_policy,
            name="self_attention",
            **self._initializers(),
        )
        self._self_attention.build(inputs_shape, inputs_shape)
        self._attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="attention_norm",
        )
        self._attention_norm.build(inputs_shape)
        self._attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        self._intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            dtype=self.dtype_policy,
            name="intermediate_dense",
            **self._initializers(),
        )
        self._intermediate_dense.build(inputs_shape)
        self._activation_fn = get_activation(
            self.activation,
            rank=len(inputs_shape),
            dtype=self.dtype_policy,
            name="activation",
        )
        intermediate_shape = (*inputs_shape[:-1], self.intermediate_dim)
        if isinstance(self._activation_fn, keras.layers.Layer):
            self._activation_fn.build(intermediate_shape)
        self._output_dense = keras.layers.Dense(
            hidden_dim,
            dtype=self.dtype_policy,
            name="output_dense",
            **self._initializers(),
        )
        self._output_dense.build(intermediate_shape)
        self._feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="feedforward_norm",
        )
        self._feedforward_norm.build(inputs_shape)
        self._feedforward_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feedforward_dropout"
        )
        self.built = True

    def call(
        self,
        inputs,
        mask=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
    ):
        if mask is not None:
            keep = ops.cast(mask, "bool")
            padding_mask = ops.logical_and(
                ops.expand_dims(keep, 1), ops.expand_dims(keep, 2)
            )
            attention_mask = (
                padding_mask
                if attention_mask is None
                else ops.logical_and(
                    padding_mask, ops.cast(attention_mask, "bool")
                )
            )

        residual = inputs
        x = self._attention_norm(inputs) if self.norm_first else inputs
        attended = self._self_attention(
            x,
            x,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, scores = attended
        x = residual + self._attention_dropout(attended, training=training)
        if not self.norm_first:
            x = self._attention_norm(x)

        residual = x
        if self.norm_first:
            x = self._feedforward_norm(x)
        x = self._activation_fn(self._intermediate_dense(x))
        x = self._output_dense(x)
        x = residual + self._feedforward_dropout(x, training=training)
        if not self.norm_first:
            x = self._feedforward_norm(x)
        if return_attention_scores:
            return x, scores
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": self.activation,
                "norm_first": self.norm_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "key_dim": self.key_dim,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
