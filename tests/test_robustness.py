"""Robustness gaps found by trying bad input (issue #22, section 3).

Each test failed before its fix. Command cases check exit code 2, one
stderr line starting with ``error:`` and nothing left behind.
"""

import os
import subprocess
import sys

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
        "interrupted during the export; rerun the same command to train "
        "and export again"
    ]
