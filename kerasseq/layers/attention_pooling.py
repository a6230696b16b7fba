"""Attention pooling: a sequence `[B, T, D]` to one vector `[B, D]`."""

import keras
from keras import ops

from kerasseq.layers.bahdanau_attention import BahdanauAttention
from kerasseq.layers.luong_attention import LuongAttention

SCORES = ("additive", "dot", "general", "concat")
QUERIES = ("learned", "last")


@keras.saving.register_keras_serializable(package="kerasseq")
class AttentionPooling(keras.layers.Layer):
    """Pools a sequence into one vector with a single attention query.

    The output is `sum_t a_t h_t`, where the weights `a_t` are the softmax
    over time of `score(q, h_t)`. The query `q` is either a learned vector
    of size `D` (`query="learned"`; with the additive score this is the
    word attention of Yang et al., 2016) or the last non-padded state
    (`query="last"`, `h_{sum(mask)-1}` for right padding, as Luong et al.,
    2015 use the final decoder state). The scores are those of
    `BahdanauAttention` (`"additive"`) or `LuongAttention` (`"dot"`,
    `"general"`, `"concat"`).

    Padded steps get weight exactly 0; a fully padded sequence pools to
    zeros (never NaN). The output has no mask.

    Args:
        score: string, `"additive"`, `"dot"`, `"general"` or `"concat"`.
            Defaults to `"additive"`.
        query: string, `"learned"` or `"last"`. Defaults to `"learned"`.
        units: optional int, hidden size of the `"additive"`/`"concat"`
            scores; defaults to `D`.
        activation: string, non-linearity of the `"additive"`/`"concat"`
            scores, any name accepted by `kerasseq.layers.get_activation`.
            Defaults to `"tanh"`.
        scale: bool, divide `"dot"`/`"general"` scores by `sqrt(D)`.
            Defaults to `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: `[B, T, D]` sequence.
        mask: optional `[B, T]` boolean padding mask; filled by Keras from
            the input's mask (e.g. `Embedding(mask_zero=True)`).
        return_attention_scores: bool; if `True`, also return the float32
            weights `[B, T]` (for plotting).

    Example:

    >>> import numpy as np
    >>> pooled = AttentionPooling()(np.ones((2, 5, 8), "float32"))
    >>> tuple(pooled.shape)
    (2, 8)

    References:
        - [Bahdanau et al., 2015](https://arxiv.org/abs/1409.0473)
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
        - [Yang et al., 2016](https://aclanthology.org/N16-1174/)
    """

    def __init__(
        self,
        score="additive",
        query="learned",
        units=None,
        activation="tanh",
        scale=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(
                f"Expected `score` to be one of {', '.join(SCORES)}. "
                f"Received: score={score!r}"
            )
        if query not in QUERIES:
            raise ValueError(
                f"Expected `query` to be one of {', '.join(QUERIES)}. "
                f"Received: query={query!r}"
            )
        if score == "additive":
            if scale:
                raise ValueError(
                    "Expected `scale=False` with `score='additive'` "
                    "(scaling applies to 'dot' and 'general'). "
                    "Received: scale=True"
                )
            self._attention = BahdanauAttention(
                units=units,
                activation=activation,
                dtype=self.dtype_policy,
                name="attention",
            )
        else:
            self._attention = LuongAttention(
                score=score,
                scale=scale,
                units=units,
                activation=activation,
                dtype=self.dtype_policy,
                name="attention",
            )
        self.score = score
        self.query = query
        self.units = units
        self.activation = activation
        self.scale = scale
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "Expected a 3D input [batch, time, features]. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        dim = input_shape[-1]
        if self.query == "learned":
            self.query_vector = self.add_weight(
                name="query_vector",
                shape=(dim,),
                initializer=keras.initializers.RandomNormal(stddev=0.1),
            )
        self._attention.build((input_shape[0], dim), input_shape)
        self.built = True

    def _last_state(self, inputs, mask):
        steps = ops.shape(inputs)[1]
        if mask is None:
            last = ops.full((ops.shape(inputs)[0],), steps - 1, dtype="int32")
        else:
            lengths = ops.sum(ops.cast(mask, "int32"), axis=1)
            last = ops.maximum(lengths - 1, 0)
        selector = ops.one_hot(last, steps, dtype=inputs.dtype)
        return ops.einsum("bt,btd->bd", selector, inputs)

    def call(self, inputs, mask=None, return_attention_scores=False):
        if self.query == "learned":
            query = ops.broadcast_to(
                ops.cast(self.query_vector, inputs.dtype),
                (ops.shape(inputs)[0], ops.shape(inputs)[-1]),
            )
        else:
            query = self._last_state(inputs, mask)
        return self._attention(
            query,
            inputs,
            value_mask=mask,
            return_attention_scores=return_attention_scores,
        )

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "score": self.score,
                "query": self.query,
                "units": self.units,
                "activation": self.activation,
                "scale": self.scale,
            }
        )
        return config
