"""`kerasseq.config`: field metadata drives coercion, validation, the
command line and the docs table."""

import argparse
import dataclasses
import json

import pytest

from kerasseq import cli
from kerasseq.config import (
    TrainConfig,
    add_arguments,
    coerce,
    config_table,
    config_values,
)
from kerasseq.errors import ConfigError
from kerasseq.values import FALSE_WORDS, NONE_WORDS, TRUE_WORDS

FIELDS = dataclasses.fields(TrainConfig)
# The `kerasseq train` options users already rely on.
KEPT_OPTIONS = {
    "--model": "model", "--data": "data", "--out": "out",
    "--epochs": "epochs", "--batch-size": "batch_size",
    "--maxlen": "maxlen", "--max-tokens": "max_tokens",
    "--mask-digits": "mask_digits", "--split-symbols": "split_symbols",
    "--seed": "seed", "--mixed-precision": "mixed_precision",
    "--strategy": "strategy", "--deterministic": "deterministic",
    "--overwrite": "overwrite",
}


def train_parser():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_every_field_declares_help_and_type(field):
    assert field.metadata["help"].strip()
    assert field.type is not None and not isinstance(field.type, str)


def test_every_option_comes_from_a_field():
    actions = {a.dest: a for a in train_parser()._actions
               if a.dest != "help"}
    for field in FIELDS:
        if field.name in ("hparams", "data_options"):
            assert field.name not in actions  # --set NAME.KEY=VALUE only
            continue
        assert field.metadata["help"] in actions[field.name].help
    for option, name in KEPT_OPTIONS.items():
        assert option in actions[name].option_strings


def test_parsed_options_become_the_config():
    args = train_parser().parse_args([
        "--model", "lstm", "--epochs", "3", "--batch-size", "8",
        "--maxlen", "none", "--mask-digits", "--no-bucketing",
        "--learning-rate", "3e-4", "--lr-schedule", "Cosine",
        "--devices", "/gpu:0,/gpu:1", "--jit-compile", "false",
    ])
    config = TrainConfig.from_dict(config_values(args))
    assert (config.model, config.epochs, config.batch_size) == (
        "lstm", 3, 8)
    assert config.maxlen is None and config.mask_digits
    assert config.bucketing is False and config.jit_compile is False
    assert config.learning_rate == 3e-4 and config.lr_schedule == "cosine"
    assert config.devices == ["/gpu:0", "/gpu:1"]
    # Options not given keep the dataclass defaults.
    assert config.seed == 0 and config.export is True
    assert config_values(train_parser().parse_args([])) == {}


def test_cli_train_parser_has_the_derived_options():
    parser = cli._parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    options = {o for a in train._actions for o in a.option_strings}
    assert set(KEPT_OPTIONS) | {"--set", "--quiet", "--learning-rate",
                                "--refit", "--no-export"} <= options


@pytest.mark.parametrize(
    "value, kind, optional, expected",
    [
        ("3", int, False, 3), (" 12 ", int, True, 12),
        ("none", int, True, None), ("none", int, False, "none"),
        ("two", int, False, "two"),
        ("3e-4", float, False, 3e-4), ("0.5", float, True, 0.5),
        ("Null", float, True, None),
        ("yes", bool, False, True), ("OFF", bool, False, False),
        ("maybe", bool, False, "maybe"), ("", bool, True, None),
        ("a, b,", list, True, ["a", "b"]),
        ("Cosine", str, True, "cosine"), ("NONE", str, False, "none"),
        ("7", None, True, 7), ("1e-3", None, True, 1e-3),
        ("False", None, True, False), ("none", None, True, None),
        ("cosine", None, True, "cosine"), ("", None, True, ""),
        (5, int, False, 5), (None, bool, True, None),
    ],
)
def test_coerce_each_type(value, kind, optional, expected):
    result = coerce(value, kind, optional)
    assert result == expected and type(result) is type(expected)


def test_boolean_and_none_words_are_listed_once():
    assert not set(TRUE_WORDS) & set(FALSE_WORDS)
    assert not (set(TRUE_WORDS) | set(FALSE_WORDS)) & set(NONE_WORDS)
    for word in TRUE_WORDS:
        assert TrainConfig.from_dict({"refit": word.upper()}).refit is True
    for word in FALSE_WORDS:
        assert TrainConfig.from_dict({"bucketing": word}).bucketing is False


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity"])
@pytest.mark.parametrize("name", ["learning_rate", "validation_fraction"])
def test_non_finite_floats_are_refused(name, text):
    with pytest.raises(ConfigError, match=f"'{name}' must be a finite"):
        TrainConfig.from_dict({name: text})
    with pytest.raises(ConfigError, match=f"'{name}' must be a finite"):
        TrainConfig(**{name: float(text)})


def test_from_dict_reads_a_run_record(tmp_path):
    config = TrainConfig(model="lstm", epochs=3, maxlen=12,
                         hparams={"units": 8}, out=str(tmp_path / "run"))
    record = {"config": config.to_dict(), "vocab_size": 50,
              "class_names": ["a", "b"], "n_train": 9}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record))
    with open(path, encoding="utf-8") as file:
        assert TrainConfig.from_dict(json.load(file)) == config


def test_config_table_lists_every_field():
    table = config_table().splitlines()
    assert table[0].startswith("| field |")
    assert len(table) == 2 + len(FIELDS)
    for field, row in zip(FIELDS, table[2:], strict=True):
        assert row.startswith(f"| `{field.name}` |")
        assert row.count(" | ") == 5  # six cells, no stray separator
    learning_rate = next(r for r in table if "`learning_rate`" in r)
    assert "`--learning-rate`" in learning_rate
    assert "a finite number > 0" in learning_rate
    assert "one of: auto, none, mirrored, multiworker" in config_table()


def test_docs_table_is_the_generated_one():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" /
            "training.md").read_text(encoding="utf-8")
    start, end = "<!-- config table -->\n", "<!-- end config table -->\n"
    assert start in text and end in text
    table = text[text.index(start) + len(start):text.index(end)]
    assert table.strip() == config_table().strip(), (
        "docs/training.md's config table is stale; regenerate it with "
        "python docs/regenerate.py")
