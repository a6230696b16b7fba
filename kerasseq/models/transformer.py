"""Transformer encoder classifier.

Token + position embedding (learned or sinusoidal positions),
``num_blocks`` `TransformerEncoderBlock`s, masked pooling over the
non-padded steps, softmax head. Positions are limited to
``max_length``: pass at least the padded sequence length.

Blocks default to pre-LN (``norm_first=True``, Xiong et al., 2020) with a
final `LayerNormalization` before pooling, as in GPT-2: it trains stably
at the learning rates used for the recurrent models, where post-LN
(``norm_first=False``, the original) needs warm-up or a lower rate.
"""

import keras

from kerasseq import layers as kl
from kerasseq.errors import ConfigError
from kerasseq.models import common
from kerasseq.models.registry import register

POSITIONS = ("learned", "sinusoidal")
POOLINGS = ("mean", "max", "attention")


def _embed(ids, vocab_size, hp):
    x = kl.TokenAndPositionEmbedding(
        vocab_size,
        hp["max_length"],
        hp["embedding_dim"],
        mask_zero=True,
        positions=hp["positions"],
        name="token_and_position_embedding",
    )(ids)
    return common.dropout(x, hp, "embedding_dropout")


@register(
    "transformer",
    "Transformer encoder over token + position embeddings, masked pooling",
    {
        "embedding_dim": 64,
        "num_heads": 4,
        "num_blocks": 2,
        "intermediate_dim": 128,
        "activation": "relu",
        "norm_first": True,
        "positions": "learned",
        "max_length": 512,
        "dropout": 0.1,
        "pooling": "mean",
        "hidden_units": 0,
        "hidden_activation": "relu",
    },
    {
        "positions": POSITIONS,
        "pooling": POOLINGS,
        "activation": common.activation_names(),
        "hidden_activation": common.activation_names(),
    },
)
def _transformer(ids, vocab_size, num_classes, hp):
    if hp["embedding_dim"] % hp["num_heads"]:
        raise ConfigError(
            "hyper-parameter 'embedding_dim' of model 'transformer' must be "
            f"divisible by num_heads={hp['num_heads']}; "
            f"got {hp['embedding_dim']}"
        )
    x = _embed(ids, vocab_size, hp)
    for index in range(1, hp["num_blocks"] + 1):
        x = kl.TransformerEncoderBlock(
            hp["num_heads"],
            hp["intermediate_dim"],
            dropout=hp["dropout"],
            activation=hp["activation"],
            norm_first=hp["norm_first"],
            name=f"encoder_block_{index}",
        )(x)
    if hp["norm_first"]:
        x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    x = common.pool(x, hp["pooling"])
    x = common.dropout(x, hp, "pooled_dropout")
    return common.classify(x, num_classes, hp)
