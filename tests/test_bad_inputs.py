"""Bad input end to end: one clear error, exit code 2, nothing half-written.

Every case runs through the ``kerasseq`` command (in-process, plus a few
real ``python -m kerasseq`` subprocesses) and, where the Python API takes
the same input, through the API. Each expects the message to name the
problem and the fix, and the ``--out`` folder (or export path) to be absent
afterwards. Every failure happens before training, so the table is fast.
"""

import gzip
import json
import os
import re
import subprocess
import sys

import pytest

import kerasseq
from kerasseq import exporter
from kerasseq.cli import main
from kerasseq.errors import ArtifactError, ConfigError, DataError
from kerasseq.text import Tokenizer

GOOD_ROWS = "".join(
    f"{'a fine film' if i % 2 else 'a dull film'} {i},"
    f"{'pos' if i % 2 else 'neg'},{'test' if i % 5 == 0 else 'train'}\n"
    for i in range(40)
)
GOOD_CSV = "text,label,split\n" + GOOD_ROWS
TINY = ["--model", "bag_of_embeddings", "--epochs", "1", "--quiet",
        "--set", "embedding_dim=4", "--set", "hidden_units=4"]
# TensorFlow's C++ logging writes these before Python runs any kerasseq
# code; they are not kerasseq output.
TF_LOG_LINE = re.compile(
    r"^([IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl)"
)


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def data_file(name, content):
    """A case's data: written into tmp_path as `name`."""
    return lambda tmp: _write(tmp / name, content)


# (id, file maker or source, extra CLI args, API config changes, error type,
#  message fragments: the problem and the fix)
DATA_CASES = [
    ("missing_file", lambda tmp: tmp / "absent.csv", [], {}, DataError,
     ["absent.csv: file not found", "Pass an existing CSV/TSV/JSONL"]),
    ("missing_text_column",
     data_file("d.csv", "body,label\nhi,a\nyo,b\n"), [], {}, DataError,
     ["no text column", "columns found: ['body', 'label']",
      "Pass text_column=<name>"]),
    ("named_column_absent", data_file("d.csv", GOOD_CSV),
     ["--set", "data_options.label_column=stars"],
     {"data_options": {"label_column": "stars"}}, DataError,
     ["label column 'stars' not found", "Pass label_column="]),
    ("empty_file", data_file("d.csv", ""), [], {}, DataError,
     ["the file is empty", "at least one row per class"]),
    ("header_only", data_file("d.csv", "text,label\n"), [], {}, DataError,
     ["the file is empty", "Give a file with a header"]),
    ("empty_texts",
     data_file("d.csv", GOOD_CSV + "   ,pos,train\n,neg,train\n"), [], {},
     DataError, ["2 row(s) have an empty text", "first rows: [42, 43]",
                 "drop_empty=True"]),
    ("undecodable_bytes",
     data_file("d.csv", GOOD_CSV.encode() + b"caf\xe9 au lait,pos,train\n"),
     [], {}, DataError,
     ["row 42, column 'text' is not valid UTF-8", "offset", "iconv"]),
    ("one_class",
     data_file("d.csv", "text,label\n" + "".join(
         f"text {i},same\n" for i in range(20))), [], {}, DataError,
     ["only one class ('same')", "at least two"]),
    ("unseen_test_label",
     data_file("d.csv", GOOD_CSV + "odd one,meh,test\n"), [], {}, DataError,
     ["test label(s) ['meh'] never occur in the training data",
      "Move some examples"]),
    ("bad_split_value",
     data_file("d.csv", GOOD_CSV + "some text,pos,validation\n"), [], {},
     DataError, ["row 42, column 'split' has value 'validation'",
                 "expected 'train' or 'test'"]),
    ("no_test_rows",
     data_file("d.csv", GOOD_CSV.replace(",test\n", ",train\n")), [], {},
     DataError, ["has no 'test' rows", "Mark some rows 'test'"]),
    ("nan_label", data_file("d.csv", GOOD_CSV + "some text,NaN,train\n"),
     [], {}, DataError, ["1 row(s) have a missing label", "first rows: [42]",
                         "Fill in the labels"]),
    ("empty_label", data_file("d.csv", GOOD_CSV + "some text,,train\n"),
     [], {}, DataError, ["missing label", "delete those rows"]),
    ("duplicate_header",
     data_file("d.csv", "text,label,text\na,b,c\n"), [], {}, DataError,
     ["repeats column name(s) ['text']", "Rename the duplicates"]),
    ("ragged_row", data_file("d.csv", GOOD_CSV + "lonely field\n"), [], {},
     DataError, ["has 1 field(s) but the header has 3", "Quote fields"]),
    ("bad_jsonl_line",
     data_file("d.jsonl", '{"text": "hi", "label": "a"}\n{oops\n'), [], {},
     DataError, ["line 2 is not valid JSON", "one JSON object per line"]),
    ("jsonl_text_not_string",
     data_file("d.jsonl", '{"text": 5, "label": "a"}\n'), [], {}, DataError,
     ["key 'text' is int, expected a string", "Store texts as JSON strings"]),
    ("not_gzip", data_file("d.csv.gz", GOOD_CSV), [], {}, DataError,
     ["not a valid gzip file", "Re-compress it with gzip"]),
    ("unsupported_suffix", data_file("d.xlsx", GOOD_CSV), [], {}, DataError,
     ["unsupported file type .xlsx", "convert it to CSV"]),
    ("class_too_small_to_split",
     data_file("d.csv", "text,label\n" + "".join(
         f"text {i},big\n" for i in range(20)) + "lone,small\n"), [], {},
     DataError, ["cannot make a stratified split", "'small': 1",
                 "add examples"]),
    ("unknown_builtin", lambda tmp: "builtin:nope", [], {}, DataError,
     ["unknown builtin dataset 'nope'", "builtin:synthetic_sentiment"]),
    ("unknown_data_option", data_file("d.csv", GOOD_CSV),
     ["--set", "data_options.colour=red"],
     {"data_options": {"colour": "red"}}, ConfigError,
     ["unknown option(s) ['colour']", "Expected some of", "text_column"]),
]

SYNTHETIC = ["--set", "data_options.n=200"]
# (id, CLI args, API config changes, error type, message fragments)
CONFIG_CASES = [
    ("unknown_set_key", ["--set", "colour=red"], None, ConfigError,
     ["unknown --set key 'colour'", "valid keys", "learning_rate",
      "hidden_units"]),
    ("unknown_config_key", None, {"colour": "red"}, ConfigError,
     ["unknown config key 'colour'", "valid keys"]),
    ("malformed_set", ["--set", "epochs"], None, ConfigError,
     ["--set expects key=value", "'epochs'"]),
    ("epochs_wrong_type", ["--epochs", "three"], {"epochs": "three"},
     ConfigError, ["config 'epochs' must be an integer >= 1", "'three'"]),
    ("negative_epochs", ["--epochs", "-2"], {"epochs": -2}, ConfigError,
     ["config 'epochs' must be an integer >= 1", "-2"]),
    ("maxlen_zero", ["--maxlen", "0"], {"maxlen": 0}, ConfigError,
     ["config 'maxlen' must be an integer >= 1 or none", "0"]),
    ("batch_size_zero", ["--batch-size", "0"], {"batch_size": 0},
     ConfigError, ["config 'batch_size' must be an integer >= 1"]),
    ("learning_rate_negative", ["--set", "learning_rate=-0.1"],
     {"learning_rate": -0.1}, ConfigError,
     ["config 'learning_rate' must be a finite number > 0", "-0.1"]),
    ("validation_fraction_one", ["--set", "validation_fraction=1"],
     {"validation_fraction": 1}, ConfigError,
     ["validation_fraction", "between 0 and 1"]),
    ("unknown_lr_schedule", ["--set", "lr_schedule=step"],
     {"lr_schedule": "step"}, ConfigError,
     ["config 'lr_schedule' must be one of", "cosine", "'step'"]),
    ("unknown_model", ["--model", "gpt7"], {"model": "gpt7"}, ConfigError,
     ["unknown model 'gpt7'", "choose one of", "bilstm_bahdanau"]),
    ("unknown_activation", ["--set", "hidden_activation=sparkle"],
     {"hparams": {"hidden_activation": "sparkle"}}, ConfigError,
     ["'hidden_activation'", "must be one of", "relu", "'sparkle'"]),
    ("hparam_wrong_type", ["--set", "hidden_units=many"],
     {"hparams": {"hidden_units": "many"}}, ConfigError,
     ["hidden_units", "must be an integer", "'many'"]),
    ("hparam_of_other_model", None, {"hparams": {"num_heads": 2}},
     ConfigError, ["unknown hyper-parameter 'num_heads'", "valid:"]),
    ("maxlen_above_max_length",
     ["--model", "transformer", "--maxlen", "64", "--set", "max_length=16"],
     None, ConfigError,
     ["maxlen 64 exceeds max_length 16", "--set max_length=64"]),
    ("multiworker_without_tf_config", ["--strategy", "multiworker"],
     {"strategy": "multiworker"}, ConfigError,
     ["TF_CONFIG", "not set"]),
]


def _cli(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_error_line(err, fragments):
    lines = [line for line in err.splitlines()
             if line.strip() and not TF_LOG_LINE.match(line)]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.mark.parametrize(
    "make_source, extra, fragments",
    [pytest.param(c[1], c[2], c[5], id=c[0]) for c in DATA_CASES],
)
def test_cli_bad_data(tmp_path, capsys, make_source, extra, fragments):
    out = tmp_path / "runs" / "run"
    source = make_source(tmp_path)
    code, err = _cli(["train", *TINY, "--data", source, "--out", out,
                      *extra], capsys)
    assert code == 2
    assert_one_error_line(err, fragments)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "make_source, changes, error, fragments",
    [pytest.param(c[1], c[3], c[4], c[5], id=c[0]) for c in DATA_CASES],
)
def test_api_bad_data(tmp_path, make_source, changes, error, fragments):
    source = str(make_source(tmp_path))
    options = changes.get("data_options", {})
    with pytest.raises(error) as caught:
        kerasseq.load_dataset(source, **options)
    for fragment in fragments:
        assert fragment in str(caught.value)
    out = tmp_path / "runs" / "run"
    config = {"model": "bag_of_embeddings", "data": source, "out": str(out),
              "epochs": 1, **changes}
    with pytest.raises(error) as caught:
        kerasseq.train(config, verbose=0)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "argv, fragments",
    [pytest.param(c[1], c[4], id=c[0]) for c in CONFIG_CASES if c[1]],
)
def test_cli_bad_config(tmp_path, capsys, argv, fragments):
    out = tmp_path / "runs" / "run"
    code, err = _cli(["train", *TINY, *SYNTHETIC, "--out", out, *argv],
                     capsys)
    assert code == 2
    assert_one_error_line(err, fragments)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "changes, error, fragments",
    [pytest.param(c[2], c[3], c[4], id=c[0])
     for c in CONFIG_CASES if c[2] is not None],
)
def test_api_bad_config(tmp_path, changes, error, fragments):
    out = tmp_path / "runs" / "run"
    config = {"model": "bag_of_embeddings", "epochs": 1, "out": str(out),
              "data_options": {"n": 200}, **changes}
    with pytest.raises(error) as caught:
        kerasseq.train(config, verbose=0)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("tf_config, fragments", [
    ("{not json", ["TF_CONFIG must be JSON like", "{not json"]),
    (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                 "task": {"type": "worker", "index": 3}}),
     ["TF_CONFIG task index 3 is not in 0..0", "fix task.index"]),
], ids=["not_json", "index_out_of_range"])
def test_multiworker_bad_tf_config_is_refused_before_anything_is_written(
        tmp_path, capsys, monkeypatch, tf_config, fragments):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    out = tmp_path / "runs" / "run"
    code, err = _cli(["train", *TINY, *SYNTHETIC, "--out", out,
                      "--strategy", "multiworker"], capsys)
    assert code == 2
    assert_one_error_line(err, fragments)
    assert not (tmp_path / "runs").exists()


def test_multiworker_after_tensorflow_started_is_refused(
        tmp_path, monkeypatch):
    import tensorflow as tf

    tf.constant(1)  # TensorFlow has started in this process.
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]},
         "task": {"type": "worker", "index": 0}}))
    out = tmp_path / "runs" / "run"
    with pytest.raises(ConfigError, match="fresh process"):
        kerasseq.train({"model": "bag_of_embeddings", "out": str(out),
                        "strategy": "multiworker"}, verbose=0)
    assert not (tmp_path / "runs").exists()


def test_out_is_a_file(tmp_path, capsys):
    out = _write(tmp_path / "taken", "mine")
    code, err = _cli(["train", *TINY, *SYNTHETIC, "--out", out], capsys)
    assert code == 2
    assert_one_error_line(err, ["--out", "is a file", "choose a directory"])
    assert out.read_text() == "mine"


# ----------------------------------------------------------------- artifacts


def _fake_export(tmp, metadata, model_bytes=b"\x00not a protobuf\xff" * 8):
    path = tmp / "export"
    path.mkdir()
    _write(path / "kerasseq.json", metadata)
    if model_bytes is not None:
        _write(path / "saved_model.pb", model_bytes)
    return path


META = json.dumps({"class_names": ["neg", "pos"]})
# (id, export maker, message fragments)
EXPORT_CASES = [
    ("missing_export", lambda tmp: tmp / "nowhere",
     ["does not exist", "export a model"]),
    ("corrupted_saved_model", lambda tmp: _fake_export(tmp, META),
     ["it is corrupted", "Export the model again"]),
    ("missing_saved_model_pb",
     lambda tmp: _fake_export(tmp, META, model_bytes=None),
     ["no saved_model.pb", "Export the model again"]),
    ("metadata_not_json", lambda tmp: _fake_export(tmp, '{"class_na'),
     ["kerasseq.json is not valid JSON", "Export the model again"]),
    ("metadata_without_classes",
     lambda tmp: _fake_export(tmp, '{"labels": []}'),
     ["no 'class_names' list", "Export the model again"]),
]


@pytest.mark.parametrize(
    "make_export, fragments",
    [pytest.param(c[1], c[2], id=c[0]) for c in EXPORT_CASES],
)
def test_predict_bad_export(tmp_path, capsys, make_export, fragments):
    path = make_export(tmp_path)
    with pytest.raises(ArtifactError) as caught:
        exporter.predict(path, ["a great film"])
    for fragment in fragments:
        assert fragment in str(caught.value)
    code, err = _cli(["predict", path, "a great film"], capsys)
    assert code == 2
    assert_one_error_line(err, fragments)


@pytest.fixture(scope="module")
def tokenizer_json():
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(["a fine film", "a dull film", "fine acting"])
    return tokenizer.to_json()


def _edit(json_text, **changes):
    record = json.loads(json_text)
    record.update(changes)
    return json.dumps(record)


# (id, function of the good JSON text, message fragments)
TOKENIZER_CASES = [
    ("truncated", lambda good: good[: len(good) // 2],
     ["not valid JSON (truncated or edited?)", "fit_on_texts"]),
    ("empty", lambda good: "", ["not valid JSON"]),
    ("not_an_object", lambda good: "[1, 2]", ["expected a JSON object"]),
    ("wrong_format", lambda good: _edit(good, format="keras"),
     ["key 'format' is 'keras'", "kerasseq tokenizer file"]),
    ("missing_key",
     lambda good: json.dumps({k: v for k, v in json.loads(good).items()
                              if k != "maxlen"}),
     ["missing key 'maxlen'"]),
    ("count_edited_to_text",
     lambda good: good.replace('["film", 2]', '["film", "two"]'),
     ["word_counts[1] must be a [token, count] pair"]),
    ("order_edited",
     lambda good: _edit(good, word_counts=list(reversed(
         json.loads(good)["word_counts"]))),
     ["word_counts is not in id order"]),
    ("duplicate_token",
     lambda good: _edit(good, word_counts=[["film", 2], ["film", 2]]),
     ["duplicate token 'film'"]),
    ("unstandardized_token",
     lambda good: _edit(good, word_counts=[["Film!", 2]]),
     ["token 'Film!' cannot come out of standardization"]),
    ("num_words_negative", lambda good: _edit(good, num_words=-5),
     ["key 'num_words' must be null or an integer >= 3"]),
]


@pytest.mark.parametrize(
    "edit, fragments",
    [pytest.param(c[1], c[2], id=c[0]) for c in TOKENIZER_CASES],
)
def test_tokenizer_json_bad(tokenizer_json, edit, fragments):
    with pytest.raises(ArtifactError) as caught:
        Tokenizer.from_json(edit(tokenizer_json))
    message = str(caught.value)
    assert "Invalid tokenizer JSON" in message and "fit_on_texts" in message
    for fragment in fragments:
        assert fragment in message


def _fake_run(tmp, tokenizer_text):
    run_dir = tmp / "run"
    run_dir.mkdir()
    _write(run_dir / "config.json", json.dumps({"config": {}}))
    _write(run_dir / "tokenizer.json", tokenizer_text)
    _write(run_dir / "model.keras", b"unused: the tokenizer fails first")
    return run_dir


@pytest.mark.parametrize(
    "edit, fragments",
    [pytest.param(c[1], c[2], id=c[0]) for c in TOKENIZER_CASES[:2]],
)
def test_cli_evaluate_bad_tokenizer(tmp_path, capsys, tokenizer_json, edit,
                                    fragments):
    run_dir = _fake_run(tmp_path, edit(tokenizer_json))
    data = _write(tmp_path / "d.csv", GOOD_CSV)
    code, err = _cli(["evaluate", run_dir, "--data", data], capsys)
    assert code == 2
    assert_one_error_line(err, ["Invalid tokenizer JSON", *fragments])
    assert not (run_dir / "eval").exists()


def test_cli_evaluate_missing_run(tmp_path, capsys):
    data = _write(tmp_path / "d.csv", GOOD_CSV)
    code, err = _cli(["evaluate", tmp_path / "no_run", "--data", data],
                     capsys)
    assert code == 2
    assert_one_error_line(err, ["model.keras not found",
                                "directory of a finished `kerasseq train`"])


def test_cli_predict_missing_input_file(tmp_path, capsys):
    path = _fake_export(tmp_path, META)
    code, err = _cli(["predict", path, "--input", tmp_path / "none.txt"],
                     capsys)
    assert code == 2
    assert_one_error_line(err, ["none.txt does not exist", "Check the path"])


# ------------------------------------------------------ real subprocesses

SUBPROCESS_CASES = [
    ("undecodable_bytes",
     lambda tmp: ["train", "--data", _write(
         tmp / "d.csv", GOOD_CSV.encode() + b"\xff\xfe,pos,train\n")],
     ["is not valid UTF-8"]),
    ("corrupted_saved_model",
     lambda tmp: ["predict", _fake_export(tmp, META), "text"],
     ["it is corrupted"]),
]


def test_subprocesses_exit_2_with_one_line(tmp_path):
    """Real ``python -m kerasseq`` runs (started together, to save time)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    running = []
    for name, make_argv, fragments in SUBPROCESS_CASES:
        case_dir = tmp_path / name
        case_dir.mkdir()
        argv = [str(a) for a in make_argv(case_dir)]
        if argv[0] == "train":
            argv += ["--out", str(case_dir / "runs" / "run")]
        process = subprocess.Popen(
            [sys.executable, "-m", "kerasseq", *argv], cwd=case_dir,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        running.append((name, case_dir, fragments, process))
    for name, case_dir, fragments, process in running:
        try:
            stdout, stderr = process.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            pytest.fail(f"{name}: no exit within 180 s")
        assert process.returncode == 2, (name, stderr)
        assert_one_error_line(stderr, fragments)
        assert stdout == "", name
        assert not (case_dir / "runs").exists(), name


def test_gzip_error_names_the_file(tmp_path):
    """A truncated gzip stream (not just a wrong suffix) is a DataError."""
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(GOOD_CSV.encode())[:-12])
    with pytest.raises(DataError, match=r"d\.csv\.gz: not a valid gzip"):
        kerasseq.load_dataset(str(path))
