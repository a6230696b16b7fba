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
from kerasseq.models import common, hparams
from kerasseq.models.registry import HParam, register

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
    )(common.word_dropout(ids, hp))
    x = common.embedding_dropout(x, hp)
    return common.dropout(x, hp, "embedding_dropout")


def _heads_divide_embedding(hp):
    if hp["embedding_dim"] % hp["num_heads"]:
        return (
            "'embedding_dim' must be divisible by num_heads="
            f"{hp['num_heads']}; got {hp['embedding_dim']}"
        )
    return None


@register(
    "transformer",
    "Transformer encoder over token + position embeddings, masked pooling",
    {
        "embedding_dim": hparams.embedding_dim(64),
        "num_heads": HParam(4, "attention heads (divide embedding_dim)",
                            low=1, search=(1, 8)),
        "num_blocks": HParam(2, "encoder blocks", low=1, search=(1, 4)),
        "intermediate_dim": hparams.units(
            128, "hidden size of each block's feed-forward layer"),
        "activation": hparams.activation(
            "relu", "activation of the feed-forward layers"),
        "norm_first": HParam(True, "pre-LN blocks (False: post-LN)"),
        "positions": HParam("learned", "position embedding kind",
                            choices=POSITIONS),
        "max_length": HParam(512, "longest sequence (positions)", low=1,
                             search=(64, 1024), log=True),
        "dropout": hparams.dropout(0.1),
        **hparams.token_regularization(),
        "pooling": HParam("mean", "how the states become one vector",
                          choices=POOLINGS),
        **hparams.head(),
    },
    checks=(_heads_divide_embedding,),
)
def _transformer(ids, vocab_size, num_classes, hp):
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
