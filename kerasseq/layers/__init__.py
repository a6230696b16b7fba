"""Keras 3 layers for sequence classification (`keras.ops` only)."""

from kerasseq.layers.activations import ACTIVATIONS, get_activation
from kerasseq.layers.adapted_layer import (
    AdaptedLayer,
    adapt_to_labels,
    adapt_to_vocabulary,
    finish_layers_training,
    layers_adapting_to_labels,
)
from kerasseq.layers.attention_pooling import AttentionPooling
from kerasseq.layers.bahdanau_attention import BahdanauAttention
from kerasseq.layers.base_attention import BaseAttention
from kerasseq.layers.boundary_hashing import BoundaryHashing
from kerasseq.layers.finish_training import FinishTraining
from kerasseq.layers.log_count_ratio_logits import LogCountRatioLogits
from kerasseq.layers.luong_attention import LuongAttention
from kerasseq.layers.masked_global_pooling1d import MaskedGlobalPooling1D
from kerasseq.layers.ngram_hashing import NgramHashing
from kerasseq.layers.position_ngram_sum import PositionNgramSum
from kerasseq.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
)
from kerasseq.layers.subword_hashing import SubwordHashing
from kerasseq.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from kerasseq.layers.token_dropout import TokenDropout
from kerasseq.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "ACTIVATIONS",
    "AdaptedLayer",
    "AttentionPooling",
    "BahdanauAttention",
    "BaseAttention",
    "BoundaryHashing",
    "FinishTraining",
    "LogCountRatioLogits",
    "LuongAttention",
    "MaskedGlobalPooling1D",
    "NgramHashing",
    "PositionNgramSum",
    "SinusoidalPositionEncoding",
    "SubwordHashing",
    "TokenAndPositionEmbedding",
    "TokenDropout",
    "TransformerEncoderBlock",
    "adapt_to_labels",
    "adapt_to_vocabulary",
    "finish_layers_training",
    "get_activation",
    "layers_adapting_to_labels",
]
