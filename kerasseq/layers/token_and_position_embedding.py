"""Token embedding plus learned or sinusoidal position embedding."""

import keras
from keras import ops

from kerasseq.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
    check_sequence_length,
)

POSITIONS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="kerasseq")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds an embedding of their positions.

    Output = `Embedding(token)[b, t] + P[t]`, where `P` is a learned
    `[max_length, embedding_dim]` table (`positions="learned"`, as in
    BERT/GPT) or the fixed sinusoidal encoding of Vaswani et al. (2017)
    (`positions="sinusoidal"`). Any sequence length up to `max_length`
    works; a longer input of known (static) length raises ValueError. With
    `mask_zero=True` (id 0 is padding) the output carries the padding
    mask `ids != 0`, so downstream layers ignore padded steps.

    Args:
        vocab_size: int, number of token ids (`Tokenizer.vocab_size`).
        max_length: int, longest sequence accepted.
        embedding_dim: int, size of the embeddings.
        mask_zero: bool, whether id 0 is padding and masked. Defaults to
            `True`.
        positions: string, `"learned"` or `"sinusoidal"`. Defaults to
            `"learned"`.
        embeddings_initializer: initializer of the token (and learned
            position) tables. Defaults to `"uniform"`.
        trainable_tokens: bool, whether the token table trains (false:
            frozen pretrained vectors, positions still train). Defaults
            to `True`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: `[B, T]` integer token ids, right padded with 0.

    Example:

    >>> import numpy as np
    >>> layer = TokenAndPositionEmbedding(
    ...     vocab_size=100, max_length=16, embedding_dim=8
    ... )
    >>> tuple(layer(np.array([[5, 7, 0, 0]])).shape)
    (1, 4, 8)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Devlin et al., 2019](https://arxiv.org/abs/1810.04805)
    """

    def __init__(
        self,
        vocab_size,
        max_length,
        embedding_dim,
        mask_zero=True,
        positions="learned",
        embeddings_initializer="uniform",
        trainable_tokens=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for arg_name, arg in (
            ("vocab_size", vocab_size),
            ("max_length", max_length),
            ("embedding_dim", embedding_dim),
        ):
            if not isinstance(arg, int) or arg < 1:
                raise ValueError(
                    f"Expected `{arg_name}` to be a positive int. "
                    f"Received: {arg_name}={arg!r}"
                )
        if not isinstance(trainable_tokens, bool):
            raise ValueError(
                "Expected `trainable_tokens` to be True or False. "
                f"Received: trainable_tokens={trainable_tokens!r}"
            )
        if positions not in POSITIONS:
            raise ValueError(
                f"Expected `positions` to be one of {', '.join(POSITIONS)}. "
                f"Received: positions={positions!r}"
            )
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.embedding_dim = embedding_dim
        self.mask_zero = mask_zero
        self.positions = positions
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer
        )
        self.supports_masking = True
        self._token_embedding = keras.layers.Embedding(
            vocab_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            mask_zero=mask_zero,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self._token_embedding.trainable = trainable_tokens
        if positions == "learned":
            self._position_embedding = keras.layers.Embedding(
                max_length,
                embedding_dim,
                embeddings_initializer=self.embeddings_initializer.from_config(
                    self.embeddings_initializer.get_config()
                ),
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self._position_embedding = SinusoidalPositionEncoding(
                max_length=max_length,
                dtype=self.dtype_policy,
                name="position_embedding",
            )

    @property
    def token_embedding(self):
        """The token `keras.layers.Embedding` (``[vocab_size,
        embedding_dim]``), e.g. to load pretrained vectors into it; its
        ``trainable`` is saved as `trainable_tokens`."""
        return self._token_embedding

    def build(self, input_shape):
        check_sequence_length(input_shape[-1], self.max_length)
        self._token_embedding.build(input_shape)
        if self.positions == "learned":
            self._position_embedding.build((1, None))
        self.built = True

    def call(self, inputs):
        check_sequence_length(inputs.shape[-1], self.max_length)
        tokens = self._token_embedding(inputs)
        if self.positions == "learned":
            steps = ops.expand_dims(ops.arange(ops.shape(inputs)[-1]), 0)
            return tokens + self._position_embedding(steps)
        return tokens + self._position_embedding(tokens)

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "max_length": self.max_length,
                "embedding_dim": self.embedding_dim,
                "mask_zero": self.mask_zero,
                "positions": self.positions,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
                "trainable_tokens": self._token_embedding.trainable,
            }
        )
        return config
