"""Shared masking, softmax and weighting logic of the attention layers."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class BaseAttention(keras.layers.Layer):
    """Base class of query-key attention layers.

    Subclasses create their weights in `build(query_shape, value_shape,
    key_shape=None)` and override `_calculate_scores(query, key)`, which maps
    `query` `[B, Tq, Dq]` and `key` `[B, Tv, Dk]` to scores `[B, Tq, Tv]`.
    This class turns scores into weights and a context vector:

    - the softmax runs in float32, also under mixed precision;
    - masked values get weight exactly 0; a query whose values are all
      masked gets all-zero weights and a zero context (never NaN);
    - masked query rows get all-zero weights and a zero context;
    - the output mask is the query's mask.

    Args:
        dropout: float in `[0, 1)`, dropout rate on the attention weights
            during training. Defaults to `0.0`.
        seed: optional int, seed of the dropout.
        **kwargs: other keyword arguments of `keras.layers.Layer`
            (`name`, `dtype`, `trainable`).

    Call arguments:
        query: query tensor `[B, Tq, Dq]`, or `[B, Dq]` for a single query
            per example (the outputs then lose the `Tq` axis).
        value: value tensor `[B, Tv, Dv]`.
        key: optional key tensor `[B, Tv, Dk]`; defaults to `value`.
        query_mask: optional boolean mask `[B, Tq]`. Keras fills it from the
            query's mask (e.g. `Embedding(mask_zero=True)`) when not given.
        value_mask: optional boolean mask `[B, Tv]`, also applied to the
            key. Keras fills it from the value's mask when not given.
        return_attention_scores: bool; if `True`, also return the attention
            weights (after masking and softmax, float32) `[B, Tq, Tv]`.
        training: bool, whether dropout is active.

    Returns:
        The context `[B, Tq, Dv]` (`[B, Dv]` for a 2D query) and, when
        `return_attention_scores=True`, the weights `[B, Tq, Tv]`
        (`[B, Tv]` for a 2D query).
    """

    def __init__(self, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(
                "Expected `dropout` to be a float in [0, 1). "
                f"Received: dropout={dropout}"
            )
        self.dropout = dropout
        self.seed = seed
        self.supports_masking = True
        self._dropout_layer = keras.layers.Dropout(
            rate=dropout,
            seed=seed,
            dtype=self.dtype_policy,
            name="attention_dropout",
        )

    def _calculate_scores(self, query, key):
        """Returns scores `[B, Tq, Tv]` for `query` `[B, Tq, Dq]` and
        `key` `[B, Tv, Dk]`."""
        raise NotImplementedError(
            f"{self.__class__.__name__} must override `_calculate_scores`."
        )

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        if key is None:
            key = value
        single_query = len(query.shape) == 2
        if single_query:
            query = ops.expand_dims(query, axis=1)
            if query_mask is not None:
                query_mask = ops.reshape(query_mask, (-1, 1))

        scores = ops.cast(self._calculate_scores(query, key), "float32")
        keep = None
        if value_mask is not None:
            keep = ops.expand_dims(ops.cast(value_mask, "bool"), axis=1)
        if query_mask is not None:
            query_keep = ops.expand_dims(ops.cast(query_mask, "bool"), axis=2)
            if keep is None:
                keep = query_keep
            else:
                keep = ops.logical_and(keep, query_keep)
        if keep is not None:
            # float32 scores, so -1e9 is safe; `where` afterwards makes the
            # weights exactly 0, also for fully masked rows (uniform softmax).
            scores = ops.where(keep, scores, -1e9)
        weights = ops.softmax(scores, axis=-1)
        if keep is not None:
            weights = ops.where(keep, weights, 0.0)

        dropped = self._dropout_layer(weights, training=training)
        context = ops.matmul(ops.cast(dropped, value.dtype), value)
        if single_query:
            context = ops.squeeze(context, axis=1)
            weights = ops.squeeze(weights, axis=1)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, query, previous_mask=None):
        if previous_mask is None or len(query.shape) == 2:
            return None
        return previous_mask

    def get_config(self):
        config = super().get_config()
        config.update({"dropout": self.dropout, "seed": self.seed})
        return config
