"""Named non-linearities shared by the kerasseq layers."""

import keras

ACTIVATIONS = (
    "elu",
    "gelu",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
)


def get_activation(identifier, rank=None, **layer_kwargs):
    """Returns Keras' implementation of the non-linearity `identifier`.

    Every identifier except `"prelu"` maps to a function from
    `keras.activations`. `"prelu"` returns a fresh, unbuilt
    `keras.layers.PReLU` (it has trainable slopes, so each call gives a new
    layer); with `rank` given, its slopes are shared over all axes but the
    last (one slope per feature), so inputs of any sequence length work.

    Args:
        identifier: string, one of `ACTIVATIONS`.
        rank: optional int, rank of the tensors the activation is applied
            to (batch axis included). Only used by `"prelu"`.
        **layer_kwargs: passed to `keras.layers.PReLU` (e.g. `name`,
            `dtype`). Only used by `"prelu"`.

    Returns:
        A callable mapping a tensor to a tensor of the same shape.

    Example:

    >>> tuple(get_activation("tanh")(keras.ops.zeros((2,))).shape)
    (2,)
    """
    if identifier not in ACTIVATIONS:
        raise ValueError(
            f"Expected `activation` to be one of {', '.join(ACTIVATIONS)}. "
            f"Received: activation={identifier!r}"
        )
    if identifier == "prelu":
        shared_axes = None if rank is None else list(range(1, rank - 1))
        return keras.layers.PReLU(shared_axes=shared_axes, **layer_kwargs)
    return keras.activations.get(identifier)
