"""Tests for kerasseq.datasets: files, folders, tfds, sklearn, errors."""

import csv
import gzip
import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerasseq
from kerasseq.datasets import load_dataset
from kerasseq.errors import ConfigError, DataError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def write_csv(path, rows, header=("text", "label", "split"), delimiter=","):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def labelled_rows(n_per_class=10, classes=("neg", "pos")):
    return [
        (f"text {label} number {i}", label)
        for label in classes
        for i in range(n_per_class)
    ]


# -- happy paths -------------------------------------------------------------


def test_shared_mr_loads_with_no_options(shared_datasets):
    data = kerasseq.load_dataset(str(shared_datasets / "mr.csv.gz"))
    assert len(data.train_texts) == 8530
    assert len(data.test_texts) == 2132
    assert data.class_names == ["negative", "positive"]
    assert data.train_labels.dtype == np.int64
    assert np.bincount(data.train_labels).tolist() == [4265, 4265]
    assert np.bincount(data.test_labels).tolist() == [1066, 1066]
    assert all(isinstance(t, str) and t for t in data.train_texts)


def test_split_column_is_used_and_labels_index_sorted_names(tmp_path):
    rows = [
        ("a fine day", "b_pos", "train"),
        ("a bad day", "a_neg", "train"),
        ("so fine", "b_pos", "test"),
        ("so bad", "a_neg", "TEST "),
    ]
    data = load_dataset(write_csv(tmp_path / "d.csv.gz", rows))
    assert data.class_names == ["a_neg", "b_pos"]
    assert data.train_texts == ["a fine day", "a bad day"]
    assert data.train_labels.tolist() == [1, 0]
    assert data.test_texts == ["so fine", "so bad"]
    assert data.test_labels.tolist() == [1, 0]


def test_integer_labels_sort_numerically(tmp_path):
    rows = [(f"t{i}", str(label)) for i in range(4) for label in (2, 10, 1)]
    data = load_dataset(
        write_csv(tmp_path / "d.csv", rows, ("text", "label")), test_size=0.25
    )
    assert data.class_names == ["1", "2", "10"]


def test_file_without_split_gets_seeded_stratified_split(tmp_path):
    rows = labelled_rows(40, ("a", "b")) + labelled_rows(20, ("c",))
    path = write_csv(tmp_path / "d.csv", rows, header=("text", "label"))
    first = load_dataset(path, test_size=0.25, seed=3)
    again = load_dataset(path, test_size=0.25, seed=3)
    other = load_dataset(path, test_size=0.25, seed=4)
    assert first.test_texts == again.test_texts
    assert first.test_texts != other.test_texts
    # 25 % of each class: 10, 10, 5 held out.
    assert np.bincount(first.test_labels).tolist() == [10, 10, 5]
    assert np.bincount(first.train_labels).tolist() == [30, 30, 15]
    all_texts = sorted(first.train_texts + first.test_texts)
    assert all_texts == sorted(text for text, _ in rows)


def test_tsv_and_custom_column_names(tmp_path):
    rows = [(lab, f"doc {i}") for i, lab in enumerate(["x", "y"] * 5)]
    path = write_csv(
        tmp_path / "d.tsv", rows, header=("cls", "body"), delimiter="\t"
    )
    data = load_dataset(
        path, text_column="body", label_column="cls", test_size=0.4
    )
    assert data.class_names == ["x", "y"]
    assert len(data.train_texts) == 6 and len(data.test_texts) == 4
    for text, label in zip(data.train_texts, data.train_labels, strict=True):
        assert int(text.split()[1]) % 2 == label


def test_jsonl_gz_with_integer_labels(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    records = [
        {"text": "héllo wörld", "label": 1, "split": "train"},
        {"text": "bye", "label": 0, "split": "train"},
        {"text": "hello again", "label": 1, "split": "test"},
    ]
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record) + "\n\n")
    data = load_dataset(path)
    assert data.class_names == ["0", "1"]
    assert data.train_texts == ["héllo wörld", "bye"]
    assert data.train_labels.tolist() == [1, 0]
    assert data.test_labels.tolist() == [1]


def test_giant_text_is_truncated_without_blowing_memory(tmp_path):
    path = tmp_path / "giant.csv.gz"
    chunk = "word " * 200_000  # 1 MB
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
        out.write('"text","label","split"\n"')
        for _ in range(50):
            out.write(chunk)
        out.write('","pos","train"\n"short","neg","train"\n')
        out.write('"x","pos","test"\n"y","neg","test"\n')
    tracemalloc.start()
    data = load_dataset(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(data.train_texts[0]) == 1_000_000
    assert data.train_texts[0] == chunk
    assert data.train_texts[1] == "short"
    assert peak < 400e6, f"peak {peak / 1e6:.0f} MB for a 50 MB text"
    small = write_csv(
        tmp_path / "small.csv",
        [("abcdef", "a", "train"), ("b", "b", "train"), ("abc", "a", "test")],
    )
    assert load_dataset(small, max_text_chars=3).train_texts[0] == "abc"


def test_validation_split_is_seeded_and_stratified(tmp_path):
    rows = labelled_rows(50, ("a", "b", "c"))
    data = load_dataset(
        write_csv(tmp_path / "d.csv", rows, ("text", "label")), test_size=0.2
    )
    tr_x, tr_y, va_x, va_y = data.validation_split(0.25, seed=1)
    assert np.bincount(va_y).tolist() == [10, 10, 10]
    assert np.bincount(tr_y).tolist() == [30, 30, 30]
    assert sorted(tr_x + va_x) == sorted(data.train_texts)
    lookup = dict(zip(data.train_texts, data.train_labels, strict=True))
    assert [lookup[t] for t in va_x] == va_y.tolist()
    assert data.validation_split(0.25, seed=1)[2] == va_x
    assert data.validation_split(0.25, seed=2)[2] != va_x


def test_validation_split_with_too_small_class_says_so(tmp_path):
    rows = labelled_rows(20, ("a",)) + [("lonely", "b"), ("lonely 2", "b")]
    data = load_dataset(
        write_csv(tmp_path / "d.csv", rows, ("text", "label")), test_size=0.5
    )
    with pytest.raises(
        DataError, match=r"'a': 10, 'b': 1.*at least 2 examples"
    ):
        data.validation_split(0.1)
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        data.validation_split(1.5)


def test_folder_with_class_subfolders(tmp_path):
    for label in ("neg", "pos", "unsup"):
        (tmp_path / label).mkdir()
        for i in range(5):
            (tmp_path / label / f"{i}.txt").write_text(
                f"{label} review {i}\nline two", encoding="utf-8"
            )
    (tmp_path / "pos" / "notes.md").write_text("ignored")
    data = load_dataset(tmp_path, class_names=["pos", "neg"], test_size=0.4)
    assert data.class_names == ["neg", "pos"]
    assert np.bincount(data.test_labels).tolist() == [2, 2]
    for text, label in zip(data.train_texts, data.train_labels, strict=True):
        assert text.startswith(data.class_names[label])
        assert text.endswith("\nline two")


def test_folder_with_train_and_test(tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        for label in ("a", "b"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                (folder / f"{i}.txt").write_text(f"{split} {label} {i}")
    data = load_dataset(str(tmp_path))
    assert data.train_texts == [
        f"train {c} {i}" for c in "ab" for i in range(3)
    ]
    assert data.test_labels.tolist() == [0, 0, 1, 1]


def test_folder_file_not_utf8(tmp_path):
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "0.txt").write_text("fine")
    (tmp_path / "b" / "1.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(DataError, match=r"1\.txt.*offset 3.*UTF-8"):
        load_dataset(tmp_path)


def _tricky_class_folders(root, outside):
    """Class folders with every case the Keras layout rules decide."""
    for label in ("a", "b"):
        (root / label / "nested").mkdir(parents=True)
        (root / label / "notes.txt").mkdir()
        (root / label / "1.txt").write_text(f"{label} one")
        (root / label / "2.TXT").write_text(f"{label} upper-case extension")
        (root / label / "nested" / "3.txt").write_text(f"{label} nested")
        # A directory named *.txt is a folder: its files count.
        (root / label / "notes.txt" / "4.txt").write_text(
            f"{label} in a folder named notes.txt")
        (root / label / "skip.md").write_text("not a text file")
        (root / label / "link.txt").symlink_to(root / label / "1.txt")
        (root / label / "linked_folder").symlink_to(outside)
    (root / ".hidden").mkdir()
    (root / ".hidden" / "5.txt").write_text("hidden folder: no class")


def test_folder_layout_rules_are_keras_text_dataset_from_directory(tmp_path):
    import keras

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "6.txt").write_text("behind a linked folder: not read")
    for split in ("train", "test"):
        _tricky_class_folders(tmp_path / "data" / split, outside)
    data = load_dataset(tmp_path / "data")
    reference = keras.utils.text_dataset_from_directory(
        tmp_path / "data" / "train", batch_size=None, shuffle=False,
        verbose=False,
    )
    expected = [(text.numpy().decode(), reference.class_names[label])
                for text, label in reference]
    assert len(expected) == 10
    for texts, labels in ((data.train_texts, data.train_labels),
                          (data.test_texts, data.test_labels)):
        got = [(text, data.class_names[label])
               for text, label in zip(texts, labels, strict=True)]
        assert got == expected


def test_folder_errors_name_the_folder_and_the_fix(tmp_path):
    for label in ("neg", "pos"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "0.txt").write_text(f"{label} text")
    with pytest.raises(DataError, match=(
            r"no sub-folder\(s\) \['neutral'\] for the requested class_names; "
            r"sub-folders found: \['neg', 'pos'\]")):
        load_dataset(tmp_path, class_names=["pos", "neutral"])
    with pytest.raises(DataError, match=r"no non-empty \*\.md files"):
        load_dataset(tmp_path, extension=".md")
    (tmp_path / "pos" / "1.txt").write_text("  \n")
    with pytest.raises(DataError,
                       match=r"1 empty file\(s\).*1\.txt.*drop_empty"):
        load_dataset(tmp_path)
    (tmp_path / "pos" / "1.txt").unlink()
    (tmp_path / "pos" / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    with pytest.raises(DataError, match=(
            r"gone\.txt: cannot read it \(a broken link to .*deleted\.txt\)"
            r"\. Fix or remove it")):
        load_dataset(tmp_path)


# -- one test per error case -------------------------------------------------


def test_error_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        load_dataset(tmp_path / "nope.csv")


def test_error_unknown_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("text,label\n")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "data.xlsx" in message and ".xlsx" in message
    for suffix in (".csv", ".tsv", ".jsonl", ".csv.gz"):
        assert suffix in message


def test_error_missing_text_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("a", "b")], ("body", "label"))
    with pytest.raises(DataError, match=r"no text column.*\['body', 'label'\]"):
        load_dataset(path)


def test_error_missing_label_column(tmp_path):
    path = write_csv(tmp_path / "d.csv", [("a", "b")], ("text", "y"))
    with pytest.raises(DataError, match=r"label column 'zz' not found") as e:
        load_dataset(path, label_column="zz")
    assert "['text', 'y']" in str(e.value)


def test_error_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        load_dataset(path)


def test_error_empty_texts_and_drop_empty(tmp_path):
    rows = labelled_rows(5) + [("", "pos"), ("   ", "neg")]
    path = write_csv(tmp_path / "d.csv", rows, ("text", "label"))
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "2 row(s) have an empty text" in message
    assert "[12, 13]" in message and "drop_empty=True" in message
    data = load_dataset(path, drop_empty=True, test_size=0.4)
    assert len(data.train_texts) + len(data.test_texts) == 10


def test_error_undecodable_bytes(tmp_path):
    path = tmp_path / "latin1.csv"
    body = b'"text","label"\n"ok","a"\n"caf\xe9","b"\n'
    path.write_bytes(body)
    with pytest.raises(DataError) as info:
        load_dataset(path)
    message = str(info.value)
    assert "row 3" in message and "'text'" in message
    bad_offset = body.index(b"\xe9")
    assert f"offset {bad_offset}" in message
    assert "UTF-8" in message


def test_error_only_one_class(tmp_path):
    path = write_csv(
        tmp_path / "d.csv", labelled_rows(5, ("pos",)), ("text", "label")
    )
    with pytest.raises(DataError, match=r"only one class \('pos'\)"):
        load_dataset(path)


def test_error_test_label_not_in_training(tmp_path):
    rows = [("a", "x", "train"), ("b", "y", "train"), ("c", "z", "test")]
    with pytest.raises(DataError, match=r"test label\(s\) \['z'\] never"):
        load_dataset(write_csv(tmp_path / "d.csv", rows))


def test_error_bad_split_value(tmp_path):
    rows = [("a", "x", "train"), ("b", "y", "valid"), ("c", "x", "test")]
    with pytest.raises(DataError, match=r"row 3, column 'split'.*'valid'"):
        load_dataset(write_csv(tmp_path / "d.csv", rows))


def test_error_missing_labels(tmp_path):
    rows = labelled_rows(3) + [("t1", ""), ("t2", "NaN")]
    path = write_csv(tmp_path / "d.csv", rows, ("text", "label"))
    with pytest.raises(
        DataError,
        match=r"2 row\(s\) have a missing label.*"
        r"\[8, 9\]",
    ):
        load_dataset(path)


def test_error_duplicate_header(tmp_path):
    path = write_csv(
        tmp_path / "d.csv", [("a", "b", "c")], ("text", "label", "text")
    )
    with pytest.raises(DataError, match=r"repeats column name\(s\) \['text'\]"):
        load_dataset(path)


def test_error_unknown_scheme():
    with pytest.raises(DataError, match=r"unknown source scheme 'hf'.*tfds"):
        load_dataset("hf:imdb")


def test_error_unknown_builtin():
    with pytest.raises(DataError, match=r"'nope'.*builtin:synthetic_sent"):
        load_dataset("builtin:nope")


def test_error_unknown_option(tmp_path):
    path = write_csv(tmp_path / "d.csv", labelled_rows(5))
    with pytest.raises(ConfigError, match=r"\['colour'\].*text_column"):
        load_dataset(path, colour="red")


# -- fuzzing -----------------------------------------------------------------


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda tail: b"text,label,split\n" + tail, st.binary(max_size=300)
        ),
        st.builds(lambda tail: b'{"text": ' + tail, st.binary(max_size=200)),
    ),
    st.sampled_from([".csv", ".jsonl", ".tsv", ".csv.gz"]),
)
def test_random_bytes_raise_only_data_error(payload, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(payload)
        try:
            data = load_dataset(path)
        except DataError:
            return
        assert len(data.class_names) >= 2


# -- tfds and scikit-learn -----------------------------------------------------


def test_tfds_sources_with_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        imdb = load_dataset("tfds:imdb_reviews")
        news = load_dataset("tfds:ag_news_subset")
    assert imdb.class_names == ["neg", "pos"]
    assert len(imdb.train_texts) == 40 and len(imdb.test_texts) == 40
    assert all(isinstance(t, str) for t in imdb.train_texts)
    assert news.class_names == ["Business", "Sci/Tech", "Sports", "World"]
    assert set(news.train_labels.tolist()) <= {0, 1, 2, 3}


def test_tfds_download_failure_is_data_error(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(DataError) as info:
        load_dataset("tfds:imdb_reviews", data_dir="/tmp/nowhere")
    message = str(info.value)
    assert "tfds:imdb_reviews" in message and "failed" in message
    assert "--data path/to/file.csv" in message and "text,label" in message


def test_sklearn_download_failure_is_data_error(monkeypatch):
    import sklearn.datasets

    def offline(**kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", offline)
    with pytest.raises(
        DataError,
        match=r"sklearn:20newsgroups.*failed.*"
        r"Network is unreachable.*--data",
    ):
        load_dataset("sklearn:20newsgroups")


def test_sklearn_20newsgroups_success(monkeypatch):
    import sklearn.datasets
    from sklearn.utils import Bunch

    calls = []

    def fake_fetch(subset, data_home, remove, categories):
        calls.append((subset, data_home, remove))
        data = {
            "train": ["gpu post", "space post", "gpu again"],
            "test": ["space again"],
        }[subset]
        target = {"train": [0, 1, 0], "test": [1]}[subset]
        return Bunch(
            data=data,
            target=np.array(target),
            target_names=["comp.graphics", "sci.space"],
        )

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", fake_fetch)
    data = load_dataset("sklearn:20newsgroups", data_home="/tmp/h")
    assert calls == [
        ("train", "/tmp/h", ("headers", "footers", "quotes")),
        ("test", "/tmp/h", ("headers", "footers", "quotes")),
    ]
    assert data.class_names == ["comp.graphics", "sci.space"]
    assert data.train_labels.tolist() == [0, 1, 0]
    assert data.test_texts == ["space again"]
    assert data.test_labels.tolist() == [1]
