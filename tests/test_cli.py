"""The ``kerasseq`` command: exit codes, one-line errors, subcommands."""

import contextlib
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from kerasseq import models, training
from kerasseq.cli import main
from kerasseq.datasets import load_dataset

TINY = [
    "--model", "bag_of_embeddings", "--epochs", "1",
    "--set", "data_options.n=300", "--set", "embedding_dim=8",
    "--set", "hidden_units=8", "--quiet",
]


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err, text):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and text in lines[0], err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def cli_train(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["train", *TINY, "--out", str(out)])
    return out, code, printed.getvalue()


@pytest.fixture
def cli_run(cli_train):
    return cli_train[0]


def test_train_prints_report_and_run_dir(cli_train):
    out, code, printed = cli_train
    assert code == 0
    assert "Confusion matrix" in printed and "accuracy" in printed
    assert f"run directory: {out}" in printed


def test_cli_run_dir_is_complete(cli_run):
    record = json.loads((cli_run / "config.json").read_text())
    assert record["config"]["epochs"] == 1
    assert record["config"]["hparams"]["embedding_dim"] == 8
    assert record["config"]["data_options"] == {"n": 300}
    assert (cli_run / "saved_model" / "kerasseq.json").is_file()
    assert json.loads((cli_run / "run.json").read_text())["status"] == (
        "finished")


def test_finished_run_refused_then_overwritten(cli_run, capsys):
    code, _, err = run(capsys, "train", *TINY, "--out", str(cli_run))
    assert code == 2
    assert_one_error_line(err, "already holds a finished run; use "
                          "--overwrite or another --out")
    code, out, err = run(capsys, "train", *TINY, "--out", str(cli_run),
                         "--overwrite")
    assert code == 0, err
    assert "run directory" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "no/such/file.csv"], "file not found"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--set", "colour=red"], "unknown --set key 'colour'"),
        (["--set", "epochs"], "--set expects key=value"),
        (["--epochs", "0"], "'epochs' must be an integer >= 1; got 0"),
        (["--maxlen", "0"], "'maxlen' must be an integer >= 1 or none"),
        (["--set", "embedding_dim=-3"], "embedding_dim"),
    ],
)
def test_bad_train_input_exits_2_without_run_dir(
    tmp_path, capsys, argv, message
):
    out = tmp_path / "run"
    base = ["--model", "bag_of_embeddings", "--set", "data_options.n=300"]
    if "--data" in argv:
        base = ["--model", "bag_of_embeddings"]
    code, _, err = run(capsys, "train", *base, *argv, "--out", str(out))
    assert code == 2
    assert_one_error_line(err, message)
    assert not out.exists()


def test_unknown_set_key_lists_valid_keys(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--model", "lstm", "--set", "x=1",
                       "--out", str(tmp_path / "run"))
    assert code == 2
    for key in ("learning_rate", "lr_schedule", "units", "num_layers"):
        assert key in err


def test_argparse_errors_exit_2(capsys):
    code, _, err = run(capsys, "train", "--bogus")
    assert code == 2 and "unrecognized arguments: --bogus" in err
    code, _, _ = run(capsys, "fly")
    assert code == 2
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "train" in out


def test_models_lists_every_builder(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()]
    assert listed == models.names()
    for name, description in models.describe().items():
        assert description in out, name


def test_evaluate_prints_report(cli_run, tmp_path, capsys):
    code, out, err = run(
        capsys, "evaluate", str(cli_run), "--data",
        "builtin:synthetic_sentiment", "--set", "data_options.n=300",
        "--out", str(tmp_path / "eval"),
    )
    assert code == 0, err
    assert "Confusion matrix" in out
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    # Recomputed with scikit-learn from the run's model.
    model, tokenizer, record = training.load_run(cli_run)
    data = load_dataset("builtin:synthetic_sentiment", n=300)
    ids = tokenizer.texts_to_padded(data.test_texts,
                                    maxlen=record["config"]["maxlen"])
    predicted = model.predict(ids, verbose=0).argmax(axis=1)
    assert evaluated["accuracy"] == pytest.approx(
        accuracy_score(data.test_labels, predicted))
    assert evaluated["macro_f1"] == pytest.approx(
        f1_score(data.test_labels, predicted, average="macro"))


def test_evaluate_missing_run_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", str(tmp_path), "--data",
                       "builtin:synthetic_sentiment")
    assert code == 2
    assert_one_error_line(err, "model.keras not found")


def test_predict_uses_the_export(cli_run, capsys):
    texts = ["the plot was great", "the acting was awful"]
    code, out, err = run(capsys, "predict", str(cli_run / "saved_model"),
                         *texts)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["text"] for row in rows] == texts
    # The Python path: the run's model on the tokenised, padded ids.
    model, tokenizer, record = training.load_run(cli_run)
    class_names = record["class_names"]
    expected = model.predict(
        tokenizer.texts_to_padded(texts, maxlen=record["config"]["maxlen"]),
        verbose=0)
    got = [[row["probabilities"][name] for name in class_names]
           for row in rows]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert [row["label"] for row in rows] == [
        class_names[i] for i in np.argmax(got, axis=1)]


def test_interrupt_exits_130(monkeypatch, tmp_path, capsys):
    def interrupted(config, verbose):
        raise training.TrainingInterrupted(
            "interrupted after 2 finished epoch(s); rerun the same command "
            "to resume from epoch 3")

    monkeypatch.setattr(training, "train", interrupted)
    code, _, err = run(capsys, "train", *TINY, "--out", str(tmp_path / "r"))
    assert code == 130
    assert "resume from epoch 3" in err


def test_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "kerasseq", "train",
                           "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--set KEY=VALUE" in done.stdout


def test_train_config_file_reruns_a_written_config(tmp_path):
    first = tmp_path / "first"
    assert main(["train", "--model", "bag_of_embeddings", "--data",
                 "builtin:synthetic_sentiment", "--out", str(first),
                 "--epochs", "1", "--set", "embedding_dim=8", "--set",
                 "data_options.n=200", "--no-export", "--quiet"]) == 0
    second = tmp_path / "second"
    assert main(["train", "--config", str(first / "config.json"),
                 "--out", str(second), "--quiet"]) == 0
    saved = [json.loads((run / "config.json").read_text())["config"]
             for run in (first, second)]
    assert {**saved[0], "out": None} == {**saved[1], "out": None}
    metrics = [json.loads((run / "metrics.json").read_text())["accuracy"]
               for run in (first, second)]
    assert metrics[0] == metrics[1]


def test_train_config_file_that_is_not_an_object(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    assert main(["train", "--config", str(path)]) == 2
    assert "must hold a JSON object" in capsys.readouterr().err
