"""Integer hashing shared by the hashing layers, exact in int32.

`mix(left, right)` is ``(left * m1 + right * m2) % buckets`` with the
odd multipliers of `MULTIPLIERS`. Multipliers below 2**11 and at most
`MAX_BUCKETS` buckets keep every intermediate product below 2**31 on
every backend.
"""

import zlib

from keras import ops

MULTIPLIERS = ((1543, 1031), (1907, 1237))
MAX_BUCKETS = 2**24
# Largest offset that keeps `offset + bucket` an int32.
MAX_OFFSET = 2**31 - 1 - MAX_BUCKETS


def mul_mod(x, multiplier, modulus):
    """``(x * multiplier) % modulus`` for int32 ``x >= 0``, ``multiplier <
    2**11``, ``modulus <= 2**24``, exact in int32: with ``x % modulus =
    high * 2**12 + low``, every intermediate product stays below 2**31."""
    x = ops.mod(x, modulus)
    high = ops.mod(ops.floor_divide(x, 4096) * multiplier, modulus)
    for _ in range(2):  # high * 2**12, by two steps of 2**6
        high = ops.mod(high * 64, modulus)
    return ops.mod(high + ops.mod(x, 4096) * multiplier, modulus)


def mix(left, right, multipliers, buckets):
    """``(left * m1 + right * m2) % buckets``, exact in int32."""
    return ops.mod(
        mul_mod(left, multipliers[0], buckets)
        + mul_mod(right, multipliers[1], buckets),
        buckets,
    )


def crc32_bucket(text, buckets):
    """``crc32(text) % buckets`` of the UTF-8 bytes of `text`."""
    return zlib.crc32(text.encode("utf-8")) % buckets


def check_vocabulary_fits(layer, vocabulary):
    """Checks that `vocabulary` (the words of ids 2, 3, ...) fits the
    layer's ``vocab_size`` and builds the layer if it is not built."""
    if len(vocabulary) + 2 > layer.vocab_size:
        raise ValueError(
            f"Expected at most {layer.vocab_size - 2} words (vocab_size "
            f"{layer.vocab_size} minus padding and OOV). Received "
            f"{len(vocabulary)} words."
        )
    if not layer.built:
        layer.build((None, None))
