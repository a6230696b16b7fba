"""``kerasseq predict``: texts from the command line or a file, through an
export, one JSON object per text; and the reading of input files."""

import csv
import gzip
import io
import json
import sys
from pathlib import Path

from kerasseq.errors import ArtifactError, ConfigError, DataError
from kerasseq.exporter import METADATA_FILE, predict


def read_texts(input_file, text_column="text"):
    """Read texts from `input_file`: a CSV with `text_column`, else lines.

    A file is read as CSV when its name ends in ``.csv``/``.csv.gz`` or its
    first line has a `text_column` field; otherwise each line is one text.
    """
    return read_rows(input_file, text_column)[0]


def read_rows(input_file, text_column="text"):
    """``(texts, columns)``: the texts of `input_file` (as `read_texts`)
    and, per text, the other columns of its CSV row (``{}`` per line of
    a plain text file)."""
    input_file = Path(input_file)
    try:
        if input_file.name.endswith(".gz"):
            with gzip.open(input_file, "rt", encoding="utf-8") as handle:
                content = handle.read()
        else:
            content = input_file.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise DataError(
            f"Input file {input_file} does not exist. Check the path."
        ) from err
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(
            f"Cannot read {input_file} as UTF-8 text ({err}). "
            "Pass a UTF-8 text or CSV file."
        ) from err
    if not content.strip():
        return [], []
    lines = content.splitlines()
    first = next(csv.reader(lines[:1]), [])
    is_csv = input_file.name.endswith((".csv", ".csv.gz"))
    if not (is_csv or text_column in first):
        return lines, [{} for _ in lines]
    reader = csv.DictReader(io.StringIO(content, newline=""))
    if text_column not in (reader.fieldnames or []):
        raise DataError(
            f"CSV file {input_file} has no column {text_column!r} (columns: "
            f"{reader.fieldnames}). Pass --text-column with one of them."
        )
    rows = list(reader)
    return ([row[text_column] or "" for row in rows],
            [{key: value for key, value in row.items()
              if key != text_column and key is not None} for row in rows])


def predict_command(
    path, texts=None, input_file=None, text_column="text", out=None
):
    """``kerasseq predict``: print one JSON object per text; return 0.

    Texts come from `texts` or from `input_file` (see `read_rows`); each
    object also says whether its text is ``empty`` (blank) and, for a
    CSV, holds the row's other ``columns`` (e.g. an id to join on).
    `path` is an export or a run directory with one (its
    ``saved_model``). `out` defaults to ``sys.stdout``.
    """
    out = sys.stdout if out is None else out
    if (texts is None or len(texts) == 0) == (input_file is None):
        raise ConfigError(
            "Give either texts or an input file (--input FILE), not both "
            "and not neither."
        )
    columns = None
    if input_file is not None:
        texts, columns = read_rows(input_file, text_column)
        if not texts:
            raise DataError(
                f"Input file {input_file} holds no texts (it is empty or "
                "only a header). Pass a file with one text per line or a "
                "CSV with rows."
            )
    results = predict(_export_of(Path(path)), texts)
    for number, result in enumerate(results):
        result["empty"] = not result["text"].strip()
        if columns is not None and columns[number]:
            result["columns"] = columns[number]
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _export_of(path):
    """`path`, or the export inside the run directory `path`."""
    if not (path / "run.json").is_file():
        return path
    if (path / "saved_model" / METADATA_FILE).is_file():
        return path / "saved_model"
    raise ArtifactError(
        f"{path} is a run directory without an export (saved_model/); "
        "train it with export on, or load it in Python with "
        "kerasseq.load(...)"
    )
