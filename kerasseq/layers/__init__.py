"""Keras 3 layers for sequence classification (`keras.ops` only)."""

from kerasseq.layers.activations import ACTIVATIONS, get_activation
from kerasseq.layers.attention_pooling import AttentionPooling
from kerasseq.layers.bahdanau_attention import BahdanauAttention
from kerasseq.layers.base_attention import BaseAttention
from kerasseq.layers.luong_attention import LuongAttention
from kerasseq.layers.sinusoidal_position_encoding import (
    SinusoidalPositionEncoding,
)
from kerasseq.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from kerasseq.layers.transformer_encoder_block import TransformerEncoderBlock

__all__ = [
    "ACTIVATIONS",
    "AttentionPooling",
    "BahdanauAttention",
    "BaseAttention",
    "LuongAttention",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "TransformerEncoderBlock",
    "get_activation",
]
