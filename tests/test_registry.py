"""The registry walk: every declared hyper-parameter of every model.

Out-of-range values are a `ConfigError` naming the key and the model, in
range values (the bounds, the suggested search bounds, every choice)
build a model, and attention is found by the layer's type.
"""

import gc
import math

import keras
import numpy as np
import pytest

from kerasseq import layers as kl
from kerasseq import models
from kerasseq.cli import main
from kerasseq.errors import ConfigError

VOCAB = 50
CLASSES = 3
# Small sizes, inside every model's ranges, so that the builds are cheap.
TINY = {
    "embedding_dim": 4,
    "units": 4,
    "hidden_units": 4,
    "attention_units": 4,
    "num_heads": 2,
    "num_blocks": 1,
    "intermediate_dim": 8,
    "max_length": 16,
    "buckets": 64,
    "subword_buckets": 64,
    "boundary_buckets": 64,
}
# Hashed-id table sizes: their upper bounds are built one at a time, with
# one-dimensional embeddings, to keep memory low.
TABLES = ("buckets", "subword_buckets", "boundary_buckets")
SOME = ("relu", "prelu")  # prelu: the activation with weights
FEATURE_OF_TABLE = {
    "subword_buckets": "subword_max_n",
    "boundary_buckets": "boundary_max_n",
}
SPECS = [
    pytest.param(name, key, spec, id=f"{name}-{key}")
    for name in models.names()
    for key, spec in models.hparam_specs(name).items()
]
NON_FINITE = (math.inf, -math.inf, math.nan, "inf", "nan", "1e999")


def tiny(name):
    specs = models.hparam_specs(name)
    return {key: value for key, value in TINY.items() if key in specs}


def _step_in(bound, is_open, direction, kind):
    """The nearest allowed value to `bound` going `direction` (+1/-1)."""
    if not is_open:
        return bound
    if kind is int:
        return bound + direction
    return math.nextafter(bound, direction * math.inf)


def boundary_values(spec):
    """In-range values at the edges of `spec`: bounds, search bounds,
    the `off` value, every choice."""
    if spec.kind is bool:
        return [False, True]
    if spec.choices:
        return list(spec.choices)
    edges = set(spec.search_bounds)
    if spec.low is not None:
        edges.add(_step_in(spec.low, spec.low_open, 1, spec.kind))
    if spec.high is not None:
        edges.add(_step_in(spec.high, spec.high_open, -1, spec.kind))
    if spec.off is not None:
        edges.add(spec.off)
    return sorted(edges)


def _step_out(bound, is_open, direction, kind, off):
    """A value just outside `bound`, going `direction` (+1/-1)."""
    if is_open:
        return bound
    value = bound + direction * (1 if kind is int else 0.5)
    return value + direction if value == off else value


def bad_values(spec):
    """Values `spec` refuses: wrong type, out of range, not a choice."""
    values = [[1], None]
    if spec.kind is bool:
        return [*values, "maybe", 1, 0.0]
    if spec.kind is str:
        return [*values, "no-such-choice", 3, True]
    values += ["many", True, *NON_FINITE]
    if spec.kind is int:
        values += [2.5, "2.5"]
    if spec.low is not None:
        values.append(_step_out(spec.low, spec.low_open, -1, spec.kind,
                                spec.off))
    if spec.high is not None:
        values.append(_step_out(spec.high, spec.high_open, 1, spec.kind,
                                spec.off))
    return values


@pytest.mark.parametrize("name, key, spec", SPECS)
def test_out_of_range_values_raise_config_error(name, key, spec):
    for value in bad_values(spec):
        with pytest.raises(ConfigError) as caught:
            models.resolve_hparams(name, **{key: value})
        message = str(caught.value)
        assert f"{key!r}" in message and f"{name!r}" in message, message
        assert repr(value) in message, message


@pytest.mark.parametrize("name, key, spec", SPECS)
def test_declaration_is_complete(name, key, spec):
    assert spec.help and "\n" not in spec.help
    assert models.default_hparams(name)[key] == spec.default
    if spec.is_number:
        low, high = spec.search_bounds
        assert math.isfinite(low) and math.isfinite(high) and low < high
        assert spec.allows(low) and spec.allows(high)
    assert models.resolve_hparams(name, **{key: str(spec.default)})[
        key] == spec.default


def _resolves(name, hparams):
    try:
        models.resolve_hparams(name, **hparams)
    except ConfigError:
        return False
    return True


def build_plans(name):
    """Hyper-parameter sets of `name` that together hold every boundary
    value of every key; each value joins the first set it fits (the
    model's cross checks may need a partner value of another key).

    Hashed tables stay small (`test_largest_hashed_tables_build`);
    activation choices are `kerasseq.layers.ACTIVATIONS`, the names the
    layers accept: two of them here, all in `test_every_activation_builds`.
    """
    plans = []
    for key, spec in models.hparam_specs(name).items():
        for value in boundary_values(spec):
            if key in TABLES and value > TINY[key]:
                continue
            if spec.choices == kl.ACTIVATIONS and value not in SOME:
                continue
            for plan in plans:
                if key not in plan and _resolves(
                    name, {**tiny(name), **plan, key: value}
                ):
                    plan[key] = value
                    break
            else:
                plans.append({key: value})
    return [{**tiny(name), **plan} for plan in plans]


@pytest.mark.parametrize("name", models.names())
def test_boundary_values_build(name):
    ids = np.array([[3, 4, 5, 0], [6, 0, 0, 0]], dtype="int32")
    for plan in build_plans(name):
        model = models.build(name, VOCAB, CLASSES, **plan)
        assert model.output_shape == (None, CLASSES), plan
    probabilities = keras.ops.convert_to_numpy(model(ids, training=False))
    assert np.isfinite(probabilities).all()


def test_every_activation_builds():
    """Each activation choice in the head every model shares, and in the
    transformer's encoder block."""
    specs = models.hparam_specs("transformer")
    assert specs["hidden_activation"].choices == kl.ACTIVATIONS
    assert specs["activation"].choices == kl.ACTIVATIONS
    for activation in kl.ACTIVATIONS:
        model = models.build(
            "bag_of_embeddings", VOCAB, CLASSES,
            **tiny("bag_of_embeddings"), hidden_activation=activation,
        )
        assert model.output_shape == (None, CLASSES)
        block = kl.TransformerEncoderBlock(2, 8, activation=activation)
        assert block(keras.Input((None, 4))).shape[-1] == 4


@pytest.mark.parametrize(
    "name, key",
    [(name, key) for name in models.names() for key in TABLES
     if key in models.hparam_specs(name)],
)
def test_largest_hashed_tables_build(name, key):
    spec = models.hparam_specs(name)[key]
    small = {**tiny(name), key: spec.high}
    if "embedding_dim" in small:
        small["embedding_dim"] = 1
    if key in FEATURE_OF_TABLE:  # that table only
        small.update({FEATURE_OF_TABLE[key]: 3, "max_n": 0})
    model = models.build(name, VOCAB, 2, **small)
    assert model.output_shape == (None, 2)
    del model
    gc.collect()


def test_non_finite_floats_are_refused_with_the_key():
    for value in NON_FINITE:
        with pytest.raises(ConfigError, match="'dropout' of model 'lstm' "
                           "must be a finite number"):
            models.resolve_hparams("lstm", dropout=value)


@pytest.mark.parametrize(
    "name, hparams, fragments",
    [
        ("transformer", {"embedding_dim": 10, "num_heads": 4},
         ["'transformer'", "'embedding_dim'", "num_heads=4", "got 10"]),
        ("nbsvm", {"max_n": 0},
         ["'nbsvm'", "max_n >= 1", "subword_max_n > 0", "boundary_max_n"]),
        ("nbsvm", {"subword_min_n": 4, "subword_max_n": 3},
         ["'nbsvm'", "'subword_max_n'", "subword_min_n=4", "got 3"]),
        ("nbsvm", {"boundary_max_n": 2}, ["'boundary_max_n'", "0 or >= 3"]),
    ],
)
def test_cross_checks_name_the_keys(name, hparams, fragments):
    with pytest.raises(ConfigError) as caught:
        models.resolve_hparams(name, **hparams)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_cli_refuses_a_bad_hparam_before_loading_data(tmp_path, capsys):
    absent = tmp_path / "absent.csv"
    code = main(["train", "--model", "ngram_bag", "--set", "max_n=99",
                 "--data", str(absent), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "'max_n' of model 'ngram_bag' must be in [1, 3]; got 99" in err
    assert "absent.csv" not in err
    assert not (tmp_path / "run").exists()


ATTENTION_MODELS = (
    "bilstm_bahdanau",
    "bilstm_luong_concat",
    "bilstm_luong_dot",
    "bilstm_luong_general",
    "ngram_bigru",
)


def _variants():
    """Every registered model, plus ``pooling="attention"`` where the
    model offers it, with whether it has attention."""
    variants = []
    for name in models.names():
        variants.append(
            pytest.param(name, {}, name in ATTENTION_MODELS, id=name)
        )
        pooling = models.hparam_specs(name).get("pooling")
        if pooling is not None and "attention" in pooling.choices:
            variants.append(pytest.param(
                name, {"pooling": "attention"}, True,
                id=f"{name}-attention_pooling",
            ))
    return variants


@pytest.mark.parametrize("name, overrides, has_attention", _variants())
def test_attention_model_on_every_registered_model(
    name, overrides, has_attention
):
    model = models.build(name, VOCAB, CLASSES, **tiny(name), **overrides)
    attention = models.attention_model(model)
    if not has_attention:
        assert attention is None
        return
    ids = np.zeros((3, 7), dtype="int32")
    for row, length in enumerate((5, 1, 7)):
        ids[row, :length] = np.arange(2, 2 + length) * (row + 1) % VOCAB
    weights = keras.ops.convert_to_numpy(attention(ids))
    assert weights.shape == ids.shape
    real = ids != 0
    np.testing.assert_array_equal(weights[~real], 0.0)
    assert np.isfinite(weights).all() and (weights[real] > 0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


def test_attention_is_found_by_type_not_name():
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True)(ids)
    pooled, scores = kl.AttentionPooling(name="any_name")(
        x, return_attention_scores=True
    )
    model = keras.Model(ids, keras.layers.Dense(2)(pooled))
    attention = models.attention_model(model)
    weights = keras.ops.convert_to_numpy(
        attention(np.array([[3, 4, 0]], dtype="int32"))
    )
    np.testing.assert_allclose(weights.sum(), 1.0, atol=1e-6)
    assert weights[0, 2] == 0.0
