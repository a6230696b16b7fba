"""Robustness gaps found by trying bad input (issue #22, section 3).

Each test failed before its fix. Command cases check exit code 2, one
stderr line starting with ``error:`` and nothing left behind.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerasseq.cli import main


def _command_env():
    """The environment of a user who set no TensorFlow log level."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG")}
    return env


def _start(argv, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "kerasseq", *map(str, argv)], cwd=cwd,
        env=_command_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _assert_one_error_line(process, fragment):
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and fragment in lines[0]


def test_command_errors_are_the_only_stderr_line(tmp_path):
    """TensorFlow's native start-up lines do not precede the error."""
    running = [
        (_start(["predict", "MISSING_DIR", "hi"], tmp_path),
         "MISSING_DIR does not exist"),
        (_start(["train", "--data", "builtin:nope", "--out", "run"],
                tmp_path), "unknown builtin dataset 'nope'"),
    ]
    for process, fragment in running:
        _assert_one_error_line(process, fragment)
    assert not (tmp_path / "run").exists()


# The console script, with Ctrl-C arriving while TensorFlow is imported.
CTRL_C_IN_IMPORT = """
import sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow":
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlC())
sys.argv = ["/venv/bin/kerasseq", "models"]
from kerasseq.cli import main
sys.exit(main())
"""


def test_ctrl_c_while_importing_exits_130_with_one_line(tmp_path):
    process = subprocess.run(
        [sys.executable, "-c", CTRL_C_IN_IMPORT], cwd=tmp_path,
        env=_command_env(), capture_output=True, text=True, timeout=120,
    )
    assert process.returncode == 130, process.stderr
    assert process.stderr.splitlines() == ["interrupted"]
    assert process.stdout == ""


GOOD_CSV = "text,label,split\n" + "".join(
    f"{'a fine film' if i % 2 else 'a dull film'} {i},"
    f"{'pos' if i % 2 else 'neg'},{'test' if i % 5 == 0 else 'train'}\n"
    for i in range(40)
)
TINY = ["--model", "bag_of_embeddings", "--epochs", "1", "--quiet",
        "--set", "embedding_dim=4", "--set", "hidden_units=4"]


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    return path


def test_ctrl_c_during_export_prints_the_resume_hint(
        tmp_path, data, monkeypatch, capsys):
    from kerasseq import exporter

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter, "export", interrupted)
    code = main(["train", "--data", str(data), "--out",
                 str(tmp_path / "run"), *TINY])
    assert code == 130
    assert capsys.readouterr().err.splitlines() == [
        "interrupted during the export; rerun the same command to resume "
        "at the export"
    ]


def _cli_error(argv, capsys):
    """The one stderr line of a command that must exit with code 2."""
    capsys.readouterr()
    assert main([str(arg) for arg in argv]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("option, value, expected", [
    ("max_text_chars", "-5", "an integer >= 1"),
    ("max_text_chars", "0", "an integer >= 1"),
    ("test_size", "1.5", "< 1.0"),
    ("seed", "-1", "an integer >= 0"),
    ("drop_empty", "2", "true or false"),
])
def test_data_options_are_range_checked_before_loading(
        tmp_path, data, capsys, option, value, expected):
    out = tmp_path / "run"
    line = _cli_error(["train", "--data", data, "--out", out, *TINY,
                       "--set", f"data_options.{option}={value}"], capsys)
    assert f"data option '{option}' is" in line and expected in line
    assert f"--set data_options.{option}=" in line
    assert not out.exists()


def test_data_options_checked_before_the_file_is_read(tmp_path):
    from kerasseq import ConfigError, load_dataset

    with pytest.raises(ConfigError, match="'max_text_chars' is -1"):
        load_dataset(tmp_path / "absent.csv", max_text_chars=-1)
    with pytest.raises(ConfigError, match="label_noise"):
        load_dataset("builtin:synthetic_sentiment", label_noise=0.5)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished, exported tiny run (trained once for the module)."""
    folder = tmp_path_factory.mktemp("finished")
    data = folder / "d.csv"
    data.write_text(GOOD_CSV, encoding="utf-8")
    assert main(["train", "--data", str(data), "--out",
                 str(folder / "run"), *TINY]) == 0
    return folder / "run"


def test_out_under_a_file_fails_before_loading(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    # The data does not exist: the --out check must come first.
    line = _cli_error(["train", "--data", tmp_path / "absent.csv",
                       "--out", blocker / "run", *TINY], capsys)
    assert f"--out {blocker / 'run'} cannot be created" in line
    assert "choose another --out DIR" in line
    assert blocker.read_text(encoding="utf-8") == "x"


def test_evaluate_out_under_a_file_fails_before_loading(
        tmp_path, finished_run, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    line = _cli_error(["evaluate", finished_run, "--data",
                       tmp_path / "absent.csv", "--out",
                       blocker / "eval"], capsys)
    assert "--out" in line and "cannot be created" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_read_only_folder_fails_before_loading(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    line = _cli_error(["train", "--data", tmp_path / "absent.csv",
                       "--out", locked / "run", *TINY], capsys)
    assert "is not writable" in line


HOLD_LOCK = """
import fcntl, sys, time
file = open(sys.argv[1], "a")
fcntl.flock(file, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


def test_a_run_directory_in_use_by_another_process_is_refused(
        tmp_path, data, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        line = _cli_error(["train", "--data", data, "--out", out, *TINY],
                          capsys)
    finally:
        holder.kill()
        holder.wait()
    assert f"--out {out} is in use" in line
    assert "another --out" in line
    assert [path.name for path in out.iterdir()] == [".lock"]


def test_the_lock_is_released_and_kept_across_overwrite(
        tmp_path, data, capsys):
    from kerasseq.training import rundir

    out = tmp_path / "run"
    args = ["train", "--data", data, "--out", out, *TINY]
    assert main([str(arg) for arg in args]) == 0
    assert main([str(arg) for arg in [*args, "--overwrite"]]) == 0
    with rundir.RunLock(out):  # free again once the run ended
        pass
    assert (out / "run.json").is_file()


def test_a_diverging_run_stops_with_a_clear_error(tmp_path, data, capsys):
    out = tmp_path / "run"
    line = _cli_error(["train", "--data", data, "--out", out, *TINY,
                       "--epochs", "3", "--learning-rate", "1e30"], capsys)
    assert "training diverged: the loss became nan" in line
    assert "learning_rate 1e+30" in line and "lower learning rate" in line
    assert "--learning-rate 1e+29" in line and "--overwrite" in line
    assert not (out / "saved_model").exists()
    assert not (out / "metrics.json").exists()


@pytest.mark.parametrize("refit", [[], ["--refit"]])
def test_a_run_killed_during_export_resumes_at_the_export(
        tmp_path, data, monkeypatch, capsys, refit):
    import json

    from kerasseq import exporter
    from kerasseq.training import fitting

    out = tmp_path / "run"
    args = [str(a) for a in ["train", "--data", data, "--out", out, *TINY,
                             "--epochs", "2", *refit]]
    real_export = exporter.export

    def killed(model, tokenizer, class_names, path, **kwargs):
        (path.parent / f".{path.name}.tmp-abc123").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter, "export", killed)
    assert main(args) == 130
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "running" and "train_seconds" in run["fitted"]

    def no_fitting(*args, **kwargs):
        raise AssertionError("the rerun fitted again")

    monkeypatch.setattr(exporter, "export", real_export)
    monkeypatch.setattr(fitting, "fit", no_fitting)
    capsys.readouterr()
    assert main(args) == 0
    assert "after fitting" in capsys.readouterr().out
    assert not list(out.glob(".saved_model.tmp-*"))
    assert (out / "saved_model" / "saved_model.pb").is_file()
    log = (out / "training_log.csv").read_text(encoding="utf-8")
    assert len(log.splitlines()) == 1 + 2  # header, one row per epoch


def _copy(run, tmp_path):
    import shutil

    return Path(shutil.copytree(run, tmp_path / "copy"))


def _drop_words(tokenizer_file, count):
    import json

    tokenizer = json.loads(tokenizer_file.read_text(encoding="utf-8"))
    del tokenizer["word_counts"][:count]
    tokenizer_file.write_text(json.dumps(tokenizer), encoding="utf-8")


@pytest.mark.parametrize("where", [".", "saved_model"])
def test_an_edited_tokenizer_is_refused(tmp_path, finished_run, where):
    import kerasseq

    run = _copy(finished_run, tmp_path)
    _drop_words(run / where / "tokenizer.json", 3)
    with pytest.raises(kerasseq.ArtifactError,
                       match="token ids but .* has .*was edited"):
        kerasseq.load(run / where)


def test_a_record_without_config_is_refused(tmp_path, finished_run, data,
                                             capsys):
    import json

    import kerasseq

    run = _copy(finished_run, tmp_path)
    record = json.loads((run / "config.json").read_text(encoding="utf-8"))
    del record["config"]
    (run / "config.json").write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(kerasseq.ArtifactError, match="no 'config' object"):
        kerasseq.load(run)
    line = _cli_error(["evaluate", run, "--data", data], capsys)
    assert "config.json has no 'config' object" in line
    assert not (run / "eval").exists()


def test_a_foreign_saved_model_is_refused(tmp_path, finished_run, capsys):
    import shutil

    import tensorflow as tf

    foreign = tmp_path / "foreign"
    module = tf.Module()
    module.serve = tf.function(
        lambda x: {"y": x * 2.0},
        input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
    )
    tf.saved_model.save(module, str(foreign),
                        signatures={"serving_default": module.serve})
    shutil.copy(finished_run / "saved_model" / "kerasseq.json", foreign)
    line = _cli_error(["predict", foreign, "hi"], capsys)
    assert "is not a kerasseq export" in line and "float32" in line


def _predictions(argv, capsys):
    import json

    capsys.readouterr()
    assert main([str(arg) for arg in argv]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_predict_keeps_the_other_csv_columns_and_flags_empty_texts(
        tmp_path, finished_run, capsys):
    rows = tmp_path / "in.csv"
    rows.write_text('id,text,note\n7,a fine film,x\n8,"  ",y\n',
                    encoding="utf-8")
    first, second = _predictions(
        ["predict", finished_run / "saved_model", "--input", rows], capsys)
    assert first["columns"] == {"id": "7", "note": "x"}
    assert second["columns"] == {"id": "8", "note": "y"}
    assert first["empty"] is False and second["empty"] is True
    assert first["text"] == "a fine film"


def test_predict_takes_a_run_directory(finished_run, capsys):
    from_run = _predictions(["predict", finished_run, "a dull film"], capsys)
    from_export = _predictions(
        ["predict", finished_run / "saved_model", "a dull film"], capsys)
    assert from_run == from_export


@pytest.mark.parametrize("content", ["", "text\n"])
def test_predict_says_an_input_file_is_empty(tmp_path, finished_run,
                                             capsys, content):
    empty = tmp_path / "in.csv"
    empty.write_text(content, encoding="utf-8")
    line = _cli_error(["predict", finished_run, "--input", empty], capsys)
    assert "holds no texts" in line


def test_a_one_epoch_curve_has_integer_epoch_ticks(tmp_path, monkeypatch):
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from kerasseq import reporting

    figures = {}

    def keep(figure, path):
        figures[path.name] = figure

    monkeypatch.setattr(reporting, "_save_figure", keep)
    reporting.write_report(
        tmp_path, y_true=np.array([0, 1]),
        y_prob=np.array([[0.8, 0.2], [0.3, 0.7]]), class_names=["a", "b"],
        texts=["x", "y"], history={"loss": [0.7], "val_loss": [0.6],
                                   "accuracy": [0.5], "val_accuracy": [0.5]},
    )
    figure = figures["training_curves.png"]
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    for axes in figure.axes:
        low, high = axes.get_xlim()
        shown = [t for t in axes.get_xticks() if low <= t <= high]
        assert shown == [1.0]


def test_a_seed_out_of_range_is_named(tmp_path, data, capsys):
    out = tmp_path / "run"
    line = _cli_error(["train", "--data", data, "--out", out, *TINY,
                       "--seed", str(2**32)], capsys)
    assert "seed" in line and "<= 4294967295" in line
    assert "class" not in line
    assert not out.exists()


def test_drop_empty_leaving_no_rows_says_so(tmp_path):
    from kerasseq import DataError, load_dataset

    blank = tmp_path / "d.csv"
    blank.write_text("text,label\n ,a\n,b\n ,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="drop_empty left no rows") as error:
        load_dataset(blank, drop_empty=True)
    assert "one class" not in str(error.value)


def test_jsonl_list_labels_are_not_called_missing(tmp_path):
    from kerasseq import DataError, load_dataset

    rows = tmp_path / "d.jsonl"
    rows.write_text('{"text": "hi", "label": ["a", "b"]}\n'
                    '{"text": "yo", "label": ["b"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"is a JSON list \(\[\"a\", \"b\"\]\)"
                       r", not one label") as error:
        load_dataset(rows)
    assert "missing" not in str(error.value)


def test_mirrored_devices_that_do_not_exist_are_named(tmp_path, data,
                                                       capsys):
    out = tmp_path / "run"
    line = _cli_error(["train", "--data", data, "--out", out, *TINY,
                       "--strategy", "mirrored",
                       "--devices", "/cpu:0,/gpu:7"], capsys)
    assert "devices /gpu:7 not found" in line and "--devices none" in line
    assert "/device:CPU:0" in line
    assert not out.exists()


def test_the_exported_keras_model_predicts_a_numpy_array_of_str(
        finished_run):
    import keras
    import numpy as np

    texts = ["a fine film", "a dull film 3", ""]
    model = keras.models.load_model(
        finished_run / "saved_model" / "model.keras")
    expected = np.asarray(model(np.array(texts, dtype=object)))
    for given in (np.array(texts), texts):
        probabilities = model.predict(given, verbose=0)
        assert probabilities.shape == (3, 2)
        assert np.all(np.isfinite(probabilities))
        np.testing.assert_allclose(probabilities, expected, atol=1e-6)
