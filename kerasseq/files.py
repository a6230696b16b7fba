"""Files kerasseq reads and writes: atomic writes, JSON, the data folder."""

import json
import os
import tempfile
from pathlib import Path

from kerasseq.errors import ArtifactError, ConfigError

# The repository checkout that holds the `kerasseq` package.
_REPO = Path(__file__).resolve().parents[1]


def check_writable_folder(path, argument):
    """Raises a `ConfigError` naming `argument` (e.g. ``"out"``) unless
    the folder `path` exists writable or can be created."""
    path = Path(path).absolute()
    existing = path
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{argument}={path} cannot be created: {existing} is not a "
            f"folder; choose another {argument}=DIR"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{argument}={path} cannot be written: {existing} is not "
            f"writable; choose a folder you can write to as {argument}=DIR"
        )


def write_atomically(path, write, binary=False):
    """Calls ``write(file)`` on a temp file next to `path`, then renames it
    over `path`, so a reader never sees a half-written file."""
    path = Path(path)
    descriptor, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        if binary:
            with os.fdopen(descriptor, "wb") as file:
                write(file)
        else:
            with os.fdopen(
                descriptor, "w", encoding="utf-8", newline=""
            ) as file:
                write(file)
        os.chmod(temp_name, 0o644)  # mkstemp creates files as 0o600
        os.replace(temp_name, path)
    except BaseException:
        if os.path.exists(temp_name):
            os.remove(temp_name)
        raise


def write_json(path, data, sort_keys=False):
    """Writes `data` as indented JSON to `path` atomically (NaN refused)."""
    text = json.dumps(data, indent=2, sort_keys=sort_keys, allow_nan=False)
    write_atomically(path, lambda file: file.write(text + "\n"))


def read_json(path, what):
    """The JSON in `path`; `ArtifactError` naming `what` if unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactError(f"cannot read {what} {path}: {error}") from None


def data_dir():
    """Folder of the shared datasets: ``$KERASSEQ_DATA_DIR``, else
    ``../shared/datasets`` beside the repository checkout."""
    env = os.environ.get("KERASSEQ_DATA_DIR")
    if env:
        return Path(env)
    return _REPO.parent / "shared" / "datasets"
