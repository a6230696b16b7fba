"""What happens while ``import kerasseq`` imports TensorFlow.

In the ``kerasseq`` command (the console script or ``python -m
kerasseq``) an error is one line on stderr, so TensorFlow's native
start-up log lines are held back: ``TF_CPP_MIN_LOG_LEVEL`` defaults to
3 (fatal only; a CPU machine's "failed call to cuInit" is an error
line), and the lines TensorFlow writes while it is imported, before its
logging honours that level, are filtered by it. Set the variable to see
them. Ctrl-C
during the import exits with code 130 and one line.
"""

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

EXIT_INTERRUPTED = 130
COMMAND = "kerasseq"
LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
COMMAND_LEVEL = "3"
# absl's native log line: severity letter, MMDD, time, thread, file:line].
_NATIVE_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+\] ")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog()"
_SEVERITIES = "IWEF"


def is_command():
    """True in the ``kerasseq`` command's process."""
    argv = list(getattr(sys, "orig_argv", ()))
    if "-m" in argv[:-1] and argv[argv.index("-m") + 1] == COMMAND:
        return True
    return bool(sys.argv) and Path(sys.argv[0]).name == COMMAND


def _keep(lines, level):
    """`lines` without native log lines below `level` (0-3)."""
    kept, dropping = [], False
    for line in lines:
        match = _NATIVE_LINE.match(line)
        if match:
            dropping = _SEVERITIES.index(match.group(1)) < level
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = level > 0
        # Lines that are neither continue the native message above them.
        if not dropping:
            kept.append(line)
    return kept


@contextlib.contextmanager
def native_logging_filtered():
    """In the command, filters the native log lines written to stderr
    inside the block by ``TF_CPP_MIN_LOG_LEVEL`` (default 3); elsewhere
    does nothing."""
    if not is_command():
        yield
        return
    os.environ.setdefault(LEVEL_VARIABLE, COMMAND_LEVEL)
    try:
        level = int(os.environ[LEVEL_VARIABLE])
    except ValueError:
        level = int(COMMAND_LEVEL)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode("utf-8", errors="replace")
            sys.stderr.write("".join(_keep(text.splitlines(True), level)))
            sys.stderr.flush()


def exit_if_command_interrupted():
    """In the command, Ctrl-C during the imports exits with code 130
    and one line instead of a traceback; elsewhere it does nothing."""
    if is_command():
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
