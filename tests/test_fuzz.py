"""Fuzzing with hypothesis: arbitrary input yields success or one
`kerasseq.errors` exception, never anything else."""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kerasseq
from kerasseq.errors import ArtifactError, KerasSeqError
from kerasseq.text import Tokenizer

FUZZ = settings(
    max_examples=100, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Bytes that often make a file parse as far as the label checks.
CSV_LIKE = st.lists(
    st.sampled_from([b"text", b"label", b"split", b",", b"\t", b"\n", b'"',
                     b"train", b"test", b"a", b"b", b"\xff", b"{", b"}",
                     b'"text": "x", ', b'"label": 1', b"\r\n", b"nan"]),
    max_size=40,
).map(b"".join)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
@FUZZ
@given(content=st.one_of(st.binary(max_size=300), CSV_LIKE))
def test_random_files_load_or_raise_kerasseq_error(suffix, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(content)
        try:
            dataset = kerasseq.load_dataset(str(path))
        except KerasSeqError as error:
            assert str(path) in str(error)
            return
    assert len(dataset.class_names) >= 2
    assert len(dataset.train_texts) == len(dataset.train_labels)
    assert set(dataset.train_labels.tolist()) == set(
        range(len(dataset.class_names)))


@FUZZ
@given(
    texts=st.lists(st.text(max_size=40), min_size=1, max_size=8),
    queries=st.lists(st.text(max_size=40), max_size=4),
    num_words=st.one_of(st.none(), st.integers(3, 10)),
)
def test_tokenizer_round_trip_on_random_unicode(texts, queries, num_words):
    tokenizer = Tokenizer(num_words=num_words)
    try:
        tokenizer.fit_on_texts(texts)
    except KerasSeqError:
        return  # e.g. no word at all in the texts
    restored = Tokenizer.from_json(tokenizer.to_json())
    sequences = tokenizer.texts_to_sequences(texts + queries)
    assert restored.texts_to_sequences(texts + queries) == sequences
    assert restored.to_json() == tokenizer.to_json()
    ids = {i for sequence in sequences for i in sequence}
    assert ids <= set(range(1, tokenizer.vocab_size))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
TOKENIZER_KEYS = ["format", "version", "num_words", "oov_token", "lower",
                  "maxlen", "word_counts"]


def _almost_tokenizer_json(values):
    """A tokenizer-shaped object with random values for some keys."""
    good = {"format": "kerasseq.tokenizer", "version": 1, "num_words": None,
            "oov_token": "[UNK]", "lower": True, "maxlen": 3,
            "word_counts": [["film", 2], ["a", 1]]}
    return json.dumps({**good, **values})


@FUZZ
@given(text=st.one_of(
    st.text(max_size=200),
    st.binary(max_size=100),
    JSON_VALUES.map(json.dumps),
    st.dictionaries(st.sampled_from(TOKENIZER_KEYS), JSON_VALUES,
                    max_size=3).map(_almost_tokenizer_json),
))
@example(text=b"\x80")  # not UTF-8
@example(text="[" * 100_000)  # nested deeper than the recursion limit
def test_from_json_raises_only_artifact_error(text):
    try:
        tokenizer = Tokenizer.from_json(text)
    except ArtifactError as error:
        assert "Invalid tokenizer JSON" in str(error)
        return
    # Anything accepted must be a usable tokenizer.
    assert tokenizer.texts_to_sequences(["a film"])
    assert Tokenizer.from_json(tokenizer.to_json()).to_json() == (
        tokenizer.to_json())
