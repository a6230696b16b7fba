"""Training on real data: a subsample of MR (movie review sentences).

Needs the shared datasets (`shared_datasets` fixture: skipped without
them); slow, so only in `make test-slow`.
"""

import csv

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from kerasseq.datasets import load_dataset
from kerasseq.training import TrainConfig, train

pytestmark = pytest.mark.slow


def write_subsample(data, path, n_train, n_test, seed=0):
    """A seeded random subsample of `data` as a text,label,split CSV."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label", "split"])
        for split, texts, labels, n in (
            ("train", data.train_texts, data.train_labels, n_train),
            ("test", data.test_texts, data.test_labels, n_test),
        ):
            for i in rng.choice(len(texts), size=n, replace=False):
                writer.writerow([texts[i], data.class_names[labels[i]],
                                 split])
    return path


def test_nbsvm_one_epoch_on_mr_subsample(shared_datasets, tmp_path):
    """NBSVM reaches about 70 % on 3,000 MR sentences (chance: 50 %)."""
    data = load_dataset(str(shared_datasets / "mr.csv.gz"))
    sample = write_subsample(data, tmp_path / "mr.csv", 3000, 1000)
    result = train(TrainConfig(
        model="nbsvm", data=str(sample), out=str(tmp_path / "run"),
        epochs=1, export=False,
        hparams={"buckets": 2**18, "max_n": 2},
    ), verbose=0)
    assert result.metrics["epochs_run"] == 1
    assert result.metrics["accuracy"] >= 0.65, result.metrics["accuracy"]
    # The reported accuracy is that of the saved model's predictions.
    test = load_dataset(str(sample))
    ids = result.tokenizer.texts_to_padded(test.test_texts,
                                           maxlen=result.config.maxlen)
    predicted = result.model.predict(ids, verbose=0).argmax(axis=1)
    assert result.metrics["accuracy"] == pytest.approx(
        accuracy_score(test.test_labels, predicted))
