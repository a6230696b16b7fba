"""Tests for kerasseq.text: standardization, Tokenizer, padding, vectorizer."""

import json
import math
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasseq.errors import ArtifactError, ConfigError, DataError
from kerasseq.text import (
    Tokenizer,
    choose_maxlen,
    pad,
    standardize,
    standardize_cased,
    standardizer,
    tokenize,
)

TRAIN = [
    "The cat sat on the mat.",
    "The dog ate the cat's food!",
    "A dog, a cat, and a bird.",
    "",
]


def test_standardization_rules():
    texts = [
        "Don't STOP 'quoted' \"double\"",
        "ÉCOLE Straße naïve",
        "a,b;c—d  e\u3000f\u00a0g\th\n",
        "東京タワー is tall 🙂!",
        "rock’n’roll ''edge'' x' 'y",
        "",
    ]
    expected = [
        ["don't", "stop", "quoted", "double"],
        ["école", "straße", "naïve"],
        ["a", "b", "c", "d", "e", "f", "g", "h"],
        ["東京タワー", "is", "tall"],
        ["rock'n'roll", "edge", "x", "y"],
        [],
    ]
    assert tokenize(texts) == expected
    assert tokenize(["Don't Stop"], lower=False) == [["Don't", "Stop"]]
    assert standardize(tf.constant("A-B")).numpy() == b"a b"


def test_vocabulary_order_and_ties():
    tok = Tokenizer().fit_on_texts(TRAIN)
    # Hand count: the 4 (the x4), a 3, cat 2, dog 2, then count 1 tokens
    # alphabetically: and, ate, bird, cat's, food, mat, on, sat.
    expected = ["the", "a", "cat", "dog", "and", "ate", "bird", "cat's"]
    expected += ["food", "mat", "on", "sat"]
    assert tok.vocabulary == expected
    assert tok.word_index == {
        "[UNK]": 1,
        **{word: i for i, word in enumerate(expected, start=2)},
    }
    assert tok.index_word[1] == "[UNK]"
    assert tok.index_word[2] == "the"
    assert tok.word_counts["the"] == 4
    assert tok.word_counts["a"] == 3
    assert tok.vocab_size == len(expected) + 2


def test_oov_and_num_words():
    tok = Tokenizer(num_words=5).fit_on_texts(TRAIN)
    assert tok.vocabulary == ["the", "a", "cat"]
    assert tok.vocab_size == 5
    assert len(tok.word_index) == 13  # every word seen, plus the OOV token
    sequences = tok.texts_to_sequences(["the dog ate a zebra", "", "CAT"])
    assert sequences == [[2, 1, 1, 3, 1], [], [4]]
    assert tok.sequences_to_texts(sequences) == [
        "the [UNK] [UNK] a [UNK]",
        "",
        "cat",
    ]
    assert tok.sequences_to_texts([[2, 0, 0]]) == ["the"]


def test_lower_false_keeps_case():
    tok = Tokenizer(lower=False).fit_on_texts(["Cat cat CAT cat"])
    assert tok.vocabulary == ["cat", "CAT", "Cat"]
    assert tok.texts_to_sequences(["Cat dog"]) == [[4, 1]]


def test_errors_before_fit_and_bad_input():
    tok = Tokenizer()
    with pytest.raises(DataError, match="not fitted"):
        tok.texts_to_sequences(["a"])
    with pytest.raises(DataError, match="single string"):
        tok.fit_on_texts("one text")
    with pytest.raises(DataError, match="text 1 is int"):
        tok.fit_on_texts(["a", 3])
    with pytest.raises(DataError, match="No words"):
        tok.fit_on_texts(["", "!!"])
    with pytest.raises(ConfigError, match="num_words"):
        Tokenizer(num_words=2)


def test_choose_maxlen_matches_numpy_percentile():
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 1000, size=301)
    assert choose_maxlen(lengths, cap=10_000) == math.ceil(
        np.percentile(lengths, 95)
    )
    assert choose_maxlen(lengths, percentile=50, cap=10_000) == math.ceil(
        np.median(lengths)
    )
    assert choose_maxlen(lengths) == 500
    assert choose_maxlen([0, 0, 0]) == 1


def test_fit_records_maxlen():
    texts = [" ".join(["w"] * n) for n in range(1, 41)]
    tok = Tokenizer().fit_on_texts(texts)
    assert tok.maxlen == math.ceil(np.percentile(np.arange(1, 41), 95))


def test_padding_defaults_are_post():
    sequences = [[5, 6, 7, 8], [3], []]
    reference = np.array([[5, 6, 7], [3, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(pad(sequences, 3), reference)
    np.testing.assert_array_equal(
        pad(sequences, 3),
        keras.utils.pad_sequences(
            sequences, maxlen=3, padding="post", truncating="post"
        ),
    )
    tok = Tokenizer().fit_on_texts(TRAIN)
    padded = tok.texts_to_padded(["the cat", "a " * 30])
    assert padded.shape == (2, tok.maxlen)
    assert padded[0].tolist()[:3] == [2, 4, 0]


def test_json_round_trip():
    tok = Tokenizer(num_words=6, oov_token="<oov>").fit_on_texts(TRAIN)
    text = tok.to_json()
    assert json.loads(text)["format"] == "kerasseq.tokenizer"
    loaded = Tokenizer.from_json(text)
    for attribute in (
        "num_words",
        "oov_token",
        "lower",
        "maxlen",
        "word_counts",
        "word_index",
        "index_word",
        "vocabulary",
    ):
        assert getattr(loaded, attribute) == getattr(tok, attribute)
    probe = ["the zebra ate a cat's food", ""]
    assert loaded.texts_to_sequences(probe) == tok.texts_to_sequences(probe)
    assert loaded.to_json() == text


def _edited(change):
    config = json.loads(Tokenizer().fit_on_texts(TRAIN).to_json())
    change(config)
    return json.dumps(config)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "kerasseq.tokenizer", "vers', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (_edited(lambda c: c.update(format="other")), "key 'format'"),
        (_edited(lambda c: c.update(version=99)), "key 'version' is 99"),
        (_edited(lambda c: c.pop("maxlen")), "missing key 'maxlen'"),
        (_edited(lambda c: c.update(maxlen="7")), "key 'maxlen' must be"),
        (_edited(lambda c: c.update(lower=1)), "key 'lower' must be"),
        (_edited(lambda c: c.update(num_words=2)), "key 'num_words'"),
        (
            _edited(lambda c: c["word_counts"].append(["the", 1])),
            "duplicate token 'the'",
        ),
        (
            _edited(lambda c: c["word_counts"].__setitem__(0, ["x", "4"])),
            r"word_counts\[0\] must be a \[token, count\] pair",
        ),
        (
            _edited(lambda c: c["word_counts"].reverse()),
            "not in id order",
        ),
        (
            _edited(lambda c: c["word_counts"].__setitem__(0, ["The", 4])),
            "cannot come out of standardization",
        ),
        (
            _edited(lambda c: c["word_counts"].__setitem__(0, ["[UNK]", 4])),
            "equals oov_token",
        ),
    ],
)
def test_malformed_json_names_problem_and_fix(text, message):
    with pytest.raises(ArtifactError, match=message) as info:
        Tokenizer.from_json(text)
    assert "fit_on_texts" in str(info.value)


def _reference_ids(tok, texts, maxlen):
    return keras.utils.pad_sequences(
        tok.texts_to_sequences(texts),
        maxlen=maxlen,
        padding="post",
        truncating="post",
    )


def test_vectorizer_matches_python_path_in_model_and_tf_data(tmp_path):
    tok = Tokenizer(num_words=8).fit_on_texts(TRAIN)
    texts = ["The cat's food, the DOG!", "", "zebra " * 9, "a\u3000bird"]
    expected = _reference_ids(tok, texts, 6)
    vectorizer = tok.vectorizer(6)
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, vectorizer(inputs))
    np.testing.assert_array_equal(model(tf.constant(texts)), expected)
    path = tmp_path / "vectorizer.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded(tf.constant(texts)), expected)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3)
    batches = [ids.numpy() for ids in dataset.map(vectorizer)]
    np.testing.assert_array_equal(np.concatenate(batches), expected)


@pytest.mark.slow  # a fresh TensorFlow import takes ~20 s on 2 shared cores
def test_saved_vectorizer_loads_in_fresh_process(tmp_path):
    tok = Tokenizer().fit_on_texts(TRAIN)
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tok.vectorizer(5)(inputs))
    path = tmp_path / "vectorizer.keras"
    model.save(path)
    texts = ["the bird ate", "unknown cat"]
    script = (
        "import sys, json, keras, tensorflow as tf, kerasseq.text\n"
        "model = keras.models.load_model(sys.argv[1])\n"
        "ids = model(tf.constant(json.loads(sys.argv[2])))\n"
        "print(json.dumps(keras.ops.convert_to_numpy(ids).tolist()))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(path), json.dumps(texts)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    ids = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_array_equal(ids, _reference_ids(tok, texts, 5))


FRAGMENTS = [
    "the",
    "The",
    "CAT",
    "don't",
    "'quoted'",
    "’tis",
    "café",
    "ÉCOLE",
    "naïve",
    "e\u0301",
    "东京",
    "日本語テキスト",
    "🙂",
    "👍🏽",
    ",",
    "...",
    "—",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\t\n",
    "  ",
    "İ",
    "ß",
    "ΣΊΣΥΦΟΣ",
    "x1",
    "42",
]
piece = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6))
text_strategy = st.lists(piece, max_size=14).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    fit_texts=st.lists(text_strategy, max_size=5),
    probe_texts=st.lists(text_strategy, min_size=1, max_size=5),
    num_words=st.one_of(st.none(), st.integers(3, 12)),
    lower=st.booleans(),
    maxlen=st.integers(1, 8),
)
def test_vectorizer_parity_property(
    fit_texts, probe_texts, num_words, lower, maxlen
):
    tok = Tokenizer(num_words=num_words, lower=lower)
    tok.fit_on_texts(["anchor", *fit_texts])
    in_graph = tok.vectorizer(maxlen)(tf.constant(probe_texts))
    np.testing.assert_array_equal(
        in_graph, _reference_ids(tok, probe_texts, maxlen)
    )


# Strings for mask_digits / split_symbols: currency, phone numbers,
# ampersands, emoji (with skin tone and variation selector), Arabic-Indic
# and fullwidth digits, a superscript (a number but not a decimal digit),
# tabs/newlines, edge apostrophes, C1 control and zero-width characters.
TRICKY = [
    "WIN £1000 cash!! Call 08712460324 now",
    "£5000 prize, T&C's apply: txt STOP to 87121",
    "Emoji 🙂👍🏽 ❤️ ok",
    "Arabic-Indic ٣٤٥ and ۱۲ and １２ x²",
    "tabs\tand\nnewlines\r\n",
    "'quoted' x' 'y don't ’tis rock’n’roll 'hi'!",
    "C1\u0085control\u009fchars a\u200bb",
    "50% off @ www.win.com/now #1 ~ ^_^ |x|",
    "",
    "!!!",
]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            {"mask_digits": True},
            [
                ["win", "0000", "cash", "call", "00000000000", "now"],
                ["0000", "prize", "t", "c's", "apply", "txt", "stop", "to"]
                + ["00000"],
                ["emoji", "\ufe0f", "ok"],  # a lone mark is a word char
                ["arabic", "indic", "000", "and", "00", "and", "00", "x²"],
            ],
        ),
        (
            {"split_symbols": True},
            [
                ["win", "£", "1000", "cash", "!", "!", "call"]
                + ["08712460324", "now"],
                ["£", "5000", "prize", ",", "t", "&", "c's", "apply", ":"]
                + ["txt", "stop", "to", "87121"],
                ["emoji", "🙂", "👍", "🏽", "\u2764\ufe0f", "ok"],
                ["arabic", "-", "indic", "٣٤٥", "and", "۱۲", "and", "１２"]
                + ["x²"],
            ],
        ),
        (
            {"mask_digits": True, "split_symbols": True},
            [
                ["win", "£", "0000", "cash", "!", "!", "call"]
                + ["00000000000", "now"],
                ["£", "0000", "prize", ",", "t", "&", "c's", "apply", ":"]
                + ["txt", "stop", "to", "00000"],
                ["emoji", "🙂", "👍", "🏽", "\u2764\ufe0f", "ok"],
                ["arabic", "-", "indic", "000", "and", "00", "and", "00"]
                + ["x²"],
            ],
        ),
    ],
)
def test_mask_digits_and_split_symbols_tokens(flags, expected):
    assert tokenize(TRICKY[:4], **flags) == expected
    split = flags.get("split_symbols", False)
    assert tokenize(TRICKY[4:7], **flags) == [
        ["tabs", "and", "newlines"],
        ["quoted", "x", "y", "don't", "tis", "rock'n'roll", "hi"]
        + (["!"] if split else []),
        ["c" + ("0" if flags.get("mask_digits") else "1"), "control"]
        + ["chars", "a", "b"],
    ]
    assert tokenize(TRICKY[8:], **flags) == [[], ["!"] * 3 if split else []]
    if split:
        assert tokenize(TRICKY[7:8], **flags)[0] == [
            "00" if flags.get("mask_digits") else "50", "%", "off", "@",
            "www", ".", "win", ".", "com", "/", "now", "#",
            "0" if flags.get("mask_digits") else "1",
            "~", "^", "_", "^", "|", "x", "|",
        ]


def test_flags_default_off_and_cased_variant():
    assert tokenize(TRICKY) == tokenize(
        TRICKY, mask_digits=False, split_symbols=False
    )
    assert tokenize(["T&C £5"], lower=False, split_symbols=True) == [
        ["T", "&", "C", "£", "5"]
    ]
    assert standardizer() is standardize
    assert standardizer(lower=False) is standardize_cased
    assert (
        standardizer(False, True, True).__name__
        == "standardize_cased_mask_digits_split_symbols"
    )


@pytest.mark.parametrize("name", ["lower", "mask_digits", "split_symbols"])
def test_flags_must_be_bool(name):
    message = f"Expected {name} to be True or False. Received: {name}=1"
    with pytest.raises(ConfigError, match=message):
        Tokenizer(**{name: 1})
    with pytest.raises(ConfigError, match=message):
        tokenize(["a"], **{name: 1})


FLAG_COMBINATIONS = [
    {"mask_digits": True},
    {"split_symbols": True},
    {"mask_digits": True, "split_symbols": True},
    {"lower": False, "mask_digits": True, "split_symbols": True},
]


@pytest.mark.parametrize("flags", FLAG_COMBINATIONS)
def test_flags_vectorizer_matches_python_path(flags):
    tok = Tokenizer(num_words=30, **flags).fit_on_texts(TRICKY[:6])
    probe = [*TRICKY, "£9999 and 0800 123 456 T&Cs!", "٩٩ 🙂🙂"]
    in_graph = tok.vectorizer(12)(tf.constant(probe))
    np.testing.assert_array_equal(in_graph, _reference_ids(tok, probe, 12))


@pytest.mark.parametrize("flags", FLAG_COMBINATIONS)
def test_flags_json_round_trip(flags):
    tok = Tokenizer(**flags).fit_on_texts(TRICKY)
    config = json.loads(tok.to_json())
    assert config["mask_digits"] == flags.get("mask_digits", False)
    assert config["split_symbols"] == flags.get("split_symbols", False)
    loaded = Tokenizer.from_json(tok.to_json())
    for name in ("lower", "mask_digits", "split_symbols", "vocabulary"):
        assert getattr(loaded, name) == getattr(tok, name)
    assert loaded.texts_to_sequences(TRICKY) == tok.texts_to_sequences(TRICKY)
    assert loaded.to_json() == tok.to_json()


def test_json_without_flag_keys_loads_with_flags_off():
    config = json.loads(Tokenizer().fit_on_texts(TRAIN).to_json())
    del config["mask_digits"], config["split_symbols"]
    loaded = Tokenizer.from_json(json.dumps(config))
    assert loaded.mask_digits is False
    assert loaded.split_symbols is False
    assert loaded.texts_to_sequences(["the cat 42!"]) == [[2, 4, 1]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(mask_digits="yes"), "key 'mask_digits' must be"),
        (lambda c: c.update(split_symbols=None), "key 'split_symbols' must"),
        # "!" is a token only when split_symbols is on.
        (
            lambda c: c["word_counts"].__setitem__(0, ["!", 4]),
            r"token '!' cannot come out of standardization \(lower=True, "
            r"mask_digits=False, split_symbols=False\)",
        ),
    ],
)
def test_malformed_flag_json(change, message):
    with pytest.raises(ArtifactError, match=message):
        Tokenizer.from_json(_edited(change))


def test_flags_vectorizer_reloads_without_custom_objects(tmp_path):
    tok = Tokenizer(mask_digits=True, split_symbols=True).fit_on_texts(TRICKY)
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, tok.vectorizer(8)(inputs))
    path = tmp_path / "vectorizer.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        saved_config = archive.read("config.json").decode("utf-8")
    assert "kerasseq>standardize_mask_digits_split_symbols" in saved_config
    reloaded = keras.models.load_model(path)
    assert reloaded.layers[-1].get_config()["standardize"] is standardizer(
        mask_digits=True, split_symbols=True
    )
    probe = ["WIN £2500!! call 09061701461", "t&c's 🙂"]
    np.testing.assert_array_equal(
        reloaded(tf.constant(probe)), _reference_ids(tok, probe, 8)
    )
    assert tok.texts_to_sequences(probe[:1]) == tok.texts_to_sequences(
        ["win £1000!! call 08712460324"]
    )


@settings(max_examples=60, deadline=None)
@given(
    fit_texts=st.lists(text_strategy, max_size=5),
    probe_texts=st.lists(text_strategy, min_size=1, max_size=5),
    lower=st.booleans(),
    mask_digits=st.booleans(),
    split_symbols=st.booleans(),
)
def test_flags_vectorizer_parity_property(
    fit_texts, probe_texts, lower, mask_digits, split_symbols
):
    tok = Tokenizer(
        lower=lower, mask_digits=mask_digits, split_symbols=split_symbols
    )
    tok.fit_on_texts(["anchor", *fit_texts, *TRICKY])
    in_graph = tok.vectorizer(10)(tf.constant(probe_texts))
    np.testing.assert_array_equal(
        in_graph, _reference_ids(tok, probe_texts, 10)
    )
