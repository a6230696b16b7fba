"""Tests for the SYNTHETIC corpus ``builtin:synthetic_sentiment``."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from kerasseq.datasets import load_dataset, synthetic
from kerasseq.errors import ConfigError

LEXICON = {word: 1 for word in synthetic.POSITIVE}
LEXICON.update({word: -1 for word in synthetic.NEGATIVE})
NEGATORS = {"not", "never", "hardly", "scarcely"}


def reference_polarity(text: str) -> int:
    """Hand-written rule: +1 positive, -1 negative, from word order only."""
    words = text.split()
    if "but" in words or "yet" in words:
        marker = next(i for i, w in enumerate(words) if w in ("but", "yet"))
        words = words[marker + 1 :]
    elif "although" in words or "though" in words:
        marker = next(
            i for i, w in enumerate(words) if w in ("although", "though")
        )
        if marker == 0:  # "although A, B": B (after the last determiner)
            last = max(i for i, w in enumerate(words) if w in ("the", "this"))
            words = words[last:]
        else:  # "B although A"
            words = words[:marker]
    if "rather" in words:  # "A rather than B": A
        words = words[: words.index("rather")]
    polarities = set()
    part: list[str] = []
    for word in [*words, "and"]:
        if word != "and":
            part.append(word)
            continue
        adjectives = {LEXICON[w] for w in part if w in LEXICON}
        assert len(adjectives) == 1, (text, part)
        sign = -1 if NEGATORS & set(part) else 1
        polarities.add(sign * adjectives.pop())
        part = []
    assert len(polarities) == 1, text
    return polarities.pop()


@pytest.fixture(scope="module")
def corpus():
    return load_dataset("builtin:synthetic_sentiment")


def test_is_deterministic_and_balanced(corpus):
    # Its load time: benchmarks/synthetic_speed.py (against a CSV file).
    again = load_dataset("builtin:synthetic_sentiment")
    assert again.train_texts == corpus.train_texts
    assert again.test_labels.tolist() == corpus.test_labels.tolist()
    other = load_dataset("builtin:synthetic_sentiment", seed=1)
    assert other.train_texts != corpus.train_texts
    assert corpus.class_names == ["negative", "positive"]
    assert len(corpus.train_texts) == 3200 and len(corpus.test_texts) == 800
    assert np.bincount(corpus.train_labels).tolist() == [1600, 1600]
    assert corpus.source == "builtin:synthetic_sentiment"


def test_labels_follow_the_hand_written_order_rule(corpus):
    for texts, labels in (
        (corpus.train_texts, corpus.train_labels),
        (corpus.test_texts, corpus.test_labels),
    ):
        expected = [reference_polarity(t) > 0 for t in texts]
        assert expected == (labels == 1).tolist()


def test_same_bag_of_words_gets_opposite_labels():
    assert reference_polarity("the film was good and not bad") == 1
    assert reference_polarity("the film was bad and not good") == -1
    assert (
        reference_polarity("the film was dull at first but ultimately moving")
        == 1
    )
    assert (
        reference_polarity("the film was moving at first but ultimately dull")
        == -1
    )


def test_corpus_contains_the_order_constructions(corpus):
    text = " ".join(corpus.train_texts)
    for phrase in (
        " but ",
        " yet ",
        "although ",
        " though ",
        " rather than ",
        "not at all ",
        " or ",
    ):
        assert phrase in text, phrase
    vocabulary = set(text.split())
    assert len(vocabulary & set(LEXICON)) >= 55
    assert len(set(corpus.train_texts)) > 0.95 * len(corpus.train_texts)


def test_bag_of_words_falls_short_but_order_features_do_better(corpus):
    def accuracy(ngram_range):
        vectorizer = CountVectorizer(ngram_range=ngram_range)
        features = vectorizer.fit_transform(corpus.train_texts)
        model = LogisticRegression(solver="liblinear").fit(
            features, corpus.train_labels
        )
        predicted = model.predict(vectorizer.transform(corpus.test_texts))
        return float(np.mean(predicted == corpus.test_labels))

    bag = accuracy((1, 1))
    trigrams = accuracy((1, 3))
    assert 0.55 <= bag <= 0.85, bag
    assert trigrams >= bag + 0.05, (bag, trigrams)


def test_label_noise_flips_about_that_fraction():
    clean = load_dataset("builtin:synthetic_sentiment", n=2000)
    noisy = load_dataset("builtin:synthetic_sentiment", n=2000, label_noise=0.2)
    clean_label = {
        text: label
        for text, label in zip(
            clean.train_texts + clean.test_texts,
            np.concatenate([clean.train_labels, clean.test_labels]),
            strict=True,
        )
    }
    noisy_pairs = zip(
        noisy.train_texts + noisy.test_texts,
        np.concatenate([noisy.train_labels, noisy.test_labels]),
        strict=True,
    )
    flipped = np.mean([clean_label[t] != y for t, y in noisy_pairs])
    assert 0.15 < flipped < 0.25, flipped


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match="label_noise"):
        load_dataset("builtin:synthetic_sentiment", label_noise=0.7)
    with pytest.raises(ConfigError, match="'n' is 3; expected an integer"):
        load_dataset("builtin:synthetic_sentiment", n=3)


def test_speed_benchmark_runs(capsys):
    """benchmarks/synthetic_speed.py times the corpus against a CSV."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / (
        "synthetic_speed.py")
    spec = importlib.util.spec_from_file_location("synthetic_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--repeats", "1"])
    assert result["ratio"] == pytest.approx(
        result["builtin_s"] / result["csv_s"])
    assert "ratio" in capsys.readouterr().out
