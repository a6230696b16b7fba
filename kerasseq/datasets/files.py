"""CSV / TSV / JSONL files (optionally gzipped) as a `TextDataset`.

Files are streamed once with the `csv` / `json` modules. Undecodable
bytes are kept as surrogates while reading (``errors="surrogateescape"``)
so the error can name the row and the byte offset.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import math
import re
import warnings
import zlib
from pathlib import Path

from kerasseq.datasets.core import (
    TextDataset,
    build_dataset,
    build_multilabel_dataset,
    random_indices,
    split_and_build,
)
from kerasseq.errors import ConfigError, DataError, MultiLabelWarning

SUPPORTED_SUFFIXES = (
    ".csv",
    ".tsv",
    ".jsonl",
    ".csv.gz",
    ".tsv.gz",
    ".jsonl.gz",
)
DEFAULT_MAX_TEXT_CHARS = 1_000_000
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")
LABEL_COLUMNS = ("label", "labels", "class", "category", "sentiment", "target")
MISSING_LABELS = {"", "nan", "null", "none", "na", "n/a"}
SPLITS = ("train", "test")
_SURROGATE = re.compile("[\udc80-\udcff]")
_FIRST_ROWS = 10


def file_format(path: Path) -> tuple[str, bool]:
    """``("csv" | "tsv" | "jsonl", gzipped)`` from the file name."""
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[: -len(".gz")]
    for kind in ("csv", "tsv", "jsonl"):
        if name.endswith("." + kind):
            return kind, gzipped
    raise DataError(
        f"{path}: unsupported file type {''.join(path.suffixes) or '(none)'}. "
        f"Supported: {', '.join(SUPPORTED_SUFFIXES)}, or a folder with one "
        "sub-folder per class. Rename the file or convert it to CSV with "
        "columns text,label[,split]."
    )


def load_file(
    path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    split_column: str | None = "split",
    test_size: float = 0.2,
    seed: int = 13,
    drop_empty: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    multi_label: bool = False,
    label_separator: str = "|",
) -> TextDataset:
    """Load a CSV/TSV/JSONL file with a text and a label column.

    A ``split`` column (values ``train``/``test``) gives the split; without
    one, a seeded stratified split holds out ``test_size`` of the rows.
    Texts longer than ``max_text_chars`` are truncated. With
    ``multi_label``, each label cell holds the row's labels joined by
    ``label_separator``; without it, labels containing the separator
    raise a `MultiLabelWarning`.
    """
    if not isinstance(label_separator, str) or not label_separator:
        raise ConfigError(
            "Expected label_separator to be a non-empty string. Received "
            f"{label_separator!r}."
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: file not found. Pass an existing CSV/TSV/JSONL file "
            "(columns text,label[,split]) or a folder of class sub-folders."
        )
    kind, gzipped = file_format(path)
    reader = _Reader(
        path, text_column, label_column, split_column, max_text_chars
    )
    try:
        with _open_text(path, gzipped) as stream:
            if kind == "jsonl":
                reader.read_jsonl(stream)
            else:
                reader.read_csv(stream, "\t" if kind == "tsv" else ",")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{path}: not a valid gzip file ({exc}). Re-compress it with "
            "gzip, or remove the .gz suffix if it is plain text."
        ) from None
    except OSError as exc:
        raise DataError(
            f"{path}: cannot be read ({exc}). Check the path and its "
            "permissions."
        ) from None
    if multi_label:
        return reader.finish_multilabel(
            drop_empty, label_separator, test_size, seed
        )
    dataset = reader.finish(drop_empty, test_size, seed)
    joined = [name for name in dataset.class_names if label_separator in name]
    if joined:
        warnings.warn(
            f"{path}: labels such as {joined[0]!r} contain "
            f"{label_separator!r}; if rows have several labels, train with "
            "--multi-label.",
            MultiLabelWarning,
            stacklevel=2,
        )
    return dataset


@contextlib.contextmanager
def _open_text(path: Path, gzipped: bool):
    with open(path, "rb") as raw:
        binary = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        text = io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )
        try:
            yield text
        finally:
            text.detach()


@contextlib.contextmanager
def _csv_field_limit(limit: int):
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


class _Reader:
    """Collects rows of one file and checks them as they stream by."""

    def __init__(self, path, text_column, label_column, split_column, limit):
        self.path = path
        self.text_column = text_column
        self.label_column = label_column
        self.split_column = split_column
        self.max_text_chars = limit
        self.texts: list[str] = []
        self.labels: list[str] = []
        self.splits: list[str] | None = None
        self.row_numbers: list[int] = []
        self.has_rows = False

    # -- columns ---------------------------------------------------------
    def choose_columns(self, columns: list[str], where: str):
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise DataError(
                f"{self.path}: {where} repeats column name(s) {duplicates} "
                f"(columns: {columns}). Rename the duplicates so every "
                "column name is unique."
            )
        text = self._pick(columns, self.text_column, TEXT_COLUMNS, "text")
        label = self._pick(columns, self.label_column, LABEL_COLUMNS, "label")
        split = self.split_column if self.split_column in columns else None
        if split is not None:
            self.splits = []
        return text, label, split

    def _pick(self, columns, wanted, candidates, role):
        if wanted is not None:
            if wanted in columns:
                return wanted
            raise DataError(
                f"{self.path}: {role} column {wanted!r} not found; columns "
                f"found: {columns}. Pass {role}_column=<one of these>."
            )
        lowered = {c.strip().lower(): c for c in columns}
        for candidate in candidates:
            if candidate in lowered:
                return lowered[candidate]
        raise DataError(
            f"{self.path}: no {role} column (looked for {list(candidates)}); "
            f"columns found: {columns}. Pass {role}_column=<name> or rename "
            f"the column to {role!r}."
        )

    # -- rows ------------------------------------------------------------
    def add(self, row_number: int, text, label, split) -> None:
        self.has_rows = True
        if len(text) > self.max_text_chars:
            text = text[: self.max_text_chars]
        self.texts.append(text)
        self.labels.append(label)
        self.row_numbers.append(row_number)
        if self.splits is not None:
            value = split.strip().lower()
            if value not in SPLITS:
                raise DataError(
                    f"{self.path}: row {row_number}, column "
                    f"{self.split_column!r} has value {split!r}; expected "
                    "'train' or 'test'. Fix the value, or drop the column "
                    "to get a seeded random split."
                )
            self.splits.append(value)

    def check_decoded(self, row_number: int, fields: dict) -> None:
        for column, value in fields.items():
            if isinstance(value, str) and _SURROGATE.search(value):
                offset = first_bad_byte(self.path)
                raise DataError(
                    f"{self.path}: row {row_number}, column {column!r} is not "
                    f"valid UTF-8 (first bad byte at offset {offset} of the "
                    "uncompressed data). Re-encode the file as UTF-8, e.g. "
                    "`iconv -f cp1252 -t utf-8 in.csv > out.csv`."
                )

    def read_csv(self, stream, delimiter: str) -> None:
        reader = csv.reader(stream, delimiter=delimiter)
        try:
            with _csv_field_limit(2**31 - 1):
                header = next(reader, None)
                if header is None:
                    return
                self.check_decoded(1, {"header": "".join(header)})
                text_col, label_col, split_col = self.choose_columns(
                    header, "the header"
                )
                positions = {name: header.index(name) for name in header}
                wanted = [text_col, label_col] + (
                    [split_col] if split_col else []
                )
                for row_number, row in enumerate(reader, start=2):
                    if not row:
                        continue
                    if len(row) < len(header):
                        raise DataError(
                            f"{self.path}: row {row_number} (line "
                            f"{reader.line_num}) has {len(row)} field(s) but "
                            f"the header has {len(header)}. Quote fields "
                            "that contain the delimiter or line breaks."
                        )
                    fields = {c: row[positions[c]] for c in wanted}
                    self.check_decoded(row_number, fields)
                    self.add(
                        row_number,
                        fields[text_col],
                        fields[label_col].strip(),
                        fields.get(split_col, ""),
                    )
        except csv.Error as exc:
            raise DataError(
                f"{self.path}: malformed CSV near line {reader.line_num} "
                f"({exc}). Write the file with a CSV library (quote fields "
                "containing quotes, delimiters or line breaks)."
            ) from None

    def read_jsonl(self, stream) -> None:
        columns = None
        for line_number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            self.check_decoded(line_number, {"line": line})
            record = self._parse_json_line(line, line_number)
            if columns is None:
                columns = list(record)
                text_col, label_col, split_col = self.choose_columns(
                    columns, f"line {line_number}"
                )
            missing = [
                c
                for c in (text_col, label_col, split_col)
                if c is not None and c not in record
            ]
            if missing:
                raise DataError(
                    f"{self.path}: line {line_number} has no key(s) {missing} "
                    f"(keys: {list(record)}). Give every line the same keys."
                )
            text = record[text_col]
            if not isinstance(text, str):
                raise DataError(
                    f"{self.path}: line {line_number}, key {text_col!r} is "
                    f"{type(text).__name__}, expected a string. Store texts "
                    "as JSON strings."
                )
            split = record.get(split_col, "") if split_col else ""
            self.add(
                line_number,
                text,
                _json_label(record[label_col]),
                split if isinstance(split, str) else repr(split),
            )

    def _parse_json_line(self, line: str, line_number: int) -> dict:
        def unique_keys(pairs):
            keys = [key for key, _ in pairs]
            if len(set(keys)) != len(keys):
                raise DataError(
                    f"{self.path}: line {line_number} repeats key(s) "
                    f"{sorted({k for k in keys if keys.count(k) > 1})}. "
                    "Make every key unique."
                )
            return dict(pairs)

        try:
            record = json.loads(line, object_pairs_hook=unique_keys)
        except (ValueError, RecursionError) as exc:
            raise DataError(
                f"{self.path}: line {line_number} is not valid JSON ({exc}). "
                "A .jsonl file needs one JSON object per line."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{self.path}: line {line_number} is a JSON "
                f"{type(record).__name__}, expected an object like "
                '{"text": "...", "label": "..."}.'
            )
        return record

    # -- checks after reading --------------------------------------------
    def finish(self, drop_empty: bool, test_size: float, seed: int):
        if not self.has_rows:
            raise DataError(
                f"{self.path}: the file is empty (no data rows). Give a file "
                "with a header and at least one row per class."
            )
        self._drop_or_reject_empty(drop_empty)
        missing = [
            n
            for n, label in zip(self.row_numbers, self.labels, strict=True)
            if label.lower() in MISSING_LABELS
        ]
        if missing:
            raise DataError(
                f"{self.path}: {len(missing)} row(s) have a missing label "
                f"(empty or NaN), first rows: {missing[:_FIRST_ROWS]}. Fill "
                "in the labels or delete those rows."
            )
        source = str(self.path)
        if self.splits is None:
            return split_and_build(
                self.texts, self.labels, test_size, seed, source
            )
        parts = {name: ([], []) for name in SPLITS}
        rows = zip(self.texts, self.labels, self.splits, strict=True)
        for text, label, split in rows:
            parts[split][0].append(text)
            parts[split][1].append(label)
        for name in SPLITS:
            if not parts[name][0]:
                raise DataError(
                    f"{self.path}: column {self.split_column!r} has no "
                    f"{name!r} rows. Mark some rows {name!r}, or drop the "
                    "column to get a seeded random split."
                )
        return build_dataset(*parts["train"], *parts["test"], source)

    def finish_multilabel(self, drop_empty, separator, test_size, seed):
        if not self.has_rows:
            raise DataError(
                f"{self.path}: the file is empty (no data rows). Give a file "
                "with a header and at least one row."
            )
        self._drop_or_reject_empty(drop_empty)
        if not any(separator in label for label in self.labels):
            raise DataError(
                f"{self.path}: --multi-label was given but no label contains "
                f"the separator {separator!r}, so every row has one label. "
                "Drop --multi-label for single-label data, or pass "
                "label_separator=<the separator your file uses>."
            )
        label_sets = []
        for row, label in zip(self.row_numbers, self.labels, strict=True):
            names = sorted(
                {n.strip() for n in label.split(separator)} - {""}
            )
            if not names:
                raise DataError(
                    f"{self.path}: row {row} has an empty label set "
                    f"({label!r}). Give it at least one label (several "
                    f"joined by {separator!r}), or delete the row."
                )
            label_sets.append(names)
        source = str(self.path)
        if self.splits is None:
            train, test = random_indices(len(self.texts), test_size, seed)
            splits = ["test"] * len(self.texts)
            for i in train:
                splits[i] = "train"
        else:
            splits = self.splits
        parts = {name: ([], []) for name in SPLITS}
        for text, names, split in zip(
            self.texts, label_sets, splits, strict=True
        ):
            parts[split][0].append(text)
            parts[split][1].append(names)
        return build_multilabel_dataset(
            *parts["train"], *parts["test"], source
        )

    def _drop_or_reject_empty(self, drop_empty: bool) -> None:
        empty = [i for i, text in enumerate(self.texts) if not text.strip()]
        if not empty:
            return
        rows = [self.row_numbers[i] for i in empty]
        if not drop_empty:
            raise DataError(
                f"{self.path}: {len(empty)} row(s) have an empty text, first "
                f"rows: {rows[:_FIRST_ROWS]}. Fill them in, or pass "
                "drop_empty=True to drop them."
            )
        keep = sorted(set(range(len(self.texts))) - set(empty))
        self.texts = [self.texts[i] for i in keep]
        self.labels = [self.labels[i] for i in keep]
        self.row_numbers = [self.row_numbers[i] for i in keep]
        if self.splits is not None:
            self.splits = [self.splits[i] for i in keep]


def _json_label(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    return ""


def first_bad_byte(path: Path) -> int | str:
    """Offset of the first byte that is not valid UTF-8 (uncompressed)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)
                return offset - pending + exc.start
            offset += len(chunk)
    return "unknown"
