"""Scoring on a test split: the one `score` that train, evaluate and
ensembles share, and `load_run` / `evaluate` for finished runs."""

import dataclasses
from pathlib import Path

from kerasseq.errors import ArtifactError, DataError
from kerasseq.files import check_writable_folder
from kerasseq.training import rundir


@dataclasses.dataclass
class Scores:
    """A model's predictions on a test split, ready for the report.

    ``y_true`` and ``y_prob`` are NumPy arrays (class ids, class
    probabilities; multi-hot rows and per-label probabilities for
    multi-label, with its decision ``thresholds``, one per label);
    ``attention_examples`` is ``None`` unless asked for and the model has
    an attention layer.
    """

    y_true: object
    y_prob: object
    texts: list
    class_names: list
    attention_examples: list | None = None
    thresholds: object | None = None

    def report(self, out_dir, *, history=None, extra=None):
        """Writes the `kerasseq.reporting.write_report` files (or
        `write_multilabel_report`'s) into `out_dir`; returns the
        metrics."""
        from kerasseq.multilabel_reporting import write_multilabel_report
        from kerasseq.reporting import write_report

        if self.thresholds is not None:
            return write_multilabel_report(
                Path(out_dir), y_true=self.y_true, y_prob=self.y_prob,
                class_names=self.class_names, texts=self.texts,
                thresholds=self.thresholds, history=history, extra=extra,
            )
        return write_report(
            Path(out_dir), y_true=self.y_true, y_prob=self.y_prob,
            class_names=self.class_names, texts=self.texts,
            history=history, extra=extra,
            attention_examples=self.attention_examples,
        )


def predict_proba(model, sequences, batch_size, maxlen):
    """Class probabilities of `model` for token-id `sequences` (batched
    and right-padded to at most `maxlen` as in training)."""
    from kerasseq.pipeline import make_dataset

    dataset = make_dataset(
        sequences, batch_size=batch_size, maxlen=maxlen, shuffle=False,
        cache=False,
    )
    return model.predict(dataset, verbose=0)


def score(model, tokenizer, texts, labels, *, class_names, batch_size=32,
          maxlen=None, attention=False, thresholds=None):
    """Predicts `texts` with `model` and pairs them with `labels`.

    Args:
        model: token ids -> class probabilities.
        tokenizer: the `kerasseq.text.Tokenizer` the model was trained
            with.
        texts: the test texts.
        labels: their class ids (indices into `class_names`).
        class_names: the model's class names.
        batch_size: prediction batch size.
        maxlen: sequence length (``None``: each batch's longest).
        attention: also pick up to 8 examples (errors first) with their
            attention weights, if the model has attention (not for
            multi-label).
        thresholds: the decision thresholds of a multi-label model (one
            per label); `labels` are then multi-hot rows.

    Returns:
        `Scores`; ``Scores.report(out_dir)`` writes the report files.
    """
    import numpy as np

    sequences = tokenizer.texts_to_sequences(texts)
    y_true = np.asarray(labels)
    y_prob = predict_proba(model, sequences, batch_size, maxlen)
    examples = None
    if attention and thresholds is None:
        clipped = [s[:maxlen] for s in sequences]
        examples = _attention_examples(model, clipped, y_true, y_prob,
                                       tokenizer, class_names)
    return Scores(y_true, y_prob, list(texts), list(class_names), examples,
                  thresholds)


def _attention_examples(model, sequences, y_true, y_prob, tokenizer,
                        class_names, count=8):
    """Up to `count` test examples (errors first) with attention weights."""
    import numpy as np

    from kerasseq import models
    from kerasseq.text import pad

    attention = models.attention_model(model)
    if attention is None:
        return None
    predicted = y_prob.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)[: count // 2]
    right = np.flatnonzero(predicted == y_true)[: count - len(wrong)]
    chosen = [int(i) for i in np.concatenate([wrong, right]) if sequences[i]]
    if not chosen:
        return None
    ids = pad([sequences[i] for i in chosen])
    weights = np.asarray(attention.predict(ids, verbose=0))
    return [
        {
            "tokens": [tokenizer.index_word[t] for t in sequences[i]],
            "weights": weights[row, : len(sequences[i])].tolist(),
            "true_label": class_names[y_true[i]],
            "predicted_label": class_names[predicted[i]],
        }
        for row, i in enumerate(chosen)
    ]


def load_run(run_dir):
    """Loads ``(model, tokenizer, config_record)`` from a run directory.

    Raises:
        ArtifactError: a file of the run is missing or unreadable.
    """
    import keras

    import kerasseq.models  # noqa: F401  (registers the custom layers)
    from kerasseq.text import Tokenizer

    run_dir = Path(run_dir)
    for name in (rundir.MODEL_FILE, rundir.TOKENIZER_FILE,
                 rundir.CONFIG_FILE):
        if not (run_dir / name).is_file():
            raise ArtifactError(
                f"{run_dir / name} not found; pass the directory of a "
                "finished `kerasseq train` run"
            )
    record = rundir.read_record(run_dir)
    tokenizer = Tokenizer.from_json(
        (run_dir / rundir.TOKENIZER_FILE).read_text(encoding="utf-8")
    )
    try:
        model = keras.saving.load_model(run_dir / rundir.MODEL_FILE)
    except (OSError, ValueError, TypeError) as error:
        raise ArtifactError(
            f"cannot load {run_dir / rundir.MODEL_FILE}: {error}"
        ) from None
    check_vocabulary(run_dir / rundir.TOKENIZER_FILE, tokenizer, model,
                     record.get("vocab_size"))
    return model, tokenizer, record


def _model_vocab_size(model):
    """The number of token ids `model` takes, where a layer says it: a
    ``vocab_size`` attribute (hashing, transformer embedding) or the
    models' shared ``Embedding`` named ``"embedding"``."""
    for layer in model.layers:
        size = getattr(layer, "vocab_size", None)
        if isinstance(size, int):
            return size
        if layer.name == "embedding" and hasattr(layer, "input_dim"):
            return layer.input_dim
    return None


def check_vocabulary(tokenizer_file, tokenizer, model, recorded=None):
    """Raises an `ArtifactError` unless the ids of `tokenizer` (read from
    `tokenizer_file`) match the model's embedding and the `recorded`
    vocabulary size (a run's config.json)."""
    expected = {"config.json vocab_size": recorded,
                "the model's embedding": _model_vocab_size(model)}
    for source, size in expected.items():
        if size is not None and size != tokenizer.vocab_size:
            raise ArtifactError(
                f"{tokenizer_file} gives "
                f"{tokenizer.vocab_size} token ids but {source} has {size}: "
                "the tokenizer was edited or belongs to another model. "
                f"Restore the original {Path(tokenizer_file).name} or "
                "train again"
            )


def evaluate(run_dir, data, *, out=None, data_options=None):
    """Evaluates a finished run on the test split of `data`.

    Labels are matched to the run's classes by name. Writes the report
    files into `out` (default ``RUN_DIR/eval``) and returns the metrics.

    Raises:
        ArtifactError: `run_dir` is not a complete run.
        DataError: `data` cannot be loaded, has no test examples or has
            labels the model does not know.
    """
    import numpy as np

    from kerasseq.datasets import load_dataset

    model, tokenizer, record = load_run(run_dir)
    out = Path(out) if out else Path(run_dir) / "eval"
    check_writable_folder(out, "out")
    config = record["config"]
    class_names = record["class_names"]
    thresholds = record.get("thresholds")
    data_options = dict(data_options or {})
    if thresholds is not None:
        data_options.setdefault("multi_label", True)
        thresholds = np.array([thresholds[name] for name in class_names])
    dataset = load_dataset(data, **data_options)
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        raise DataError(
            f"{data} has labels the model was not trained on: "
            f"{', '.join(map(str, unknown))}; the model knows "
            f"{', '.join(class_names)}"
        )
    if len(dataset.test_texts) == 0:
        raise DataError(f"{data} has no test examples to evaluate on")
    to_run_id = np.array([class_names.index(c) for c in dataset.class_names])
    if thresholds is None:
        labels = to_run_id[np.asarray(dataset.test_labels)]
    else:
        labels = np.zeros((len(dataset.test_texts), len(class_names)),
                          dtype="float32")
        labels[:, to_run_id] = dataset.test_labels
    scores = score(
        model, tokenizer, dataset.test_texts, labels,
        class_names=class_names, batch_size=config["batch_size"],
        maxlen=config["maxlen"], thresholds=thresholds,
    )
    return scores.report(
        out, extra={"data": str(data), "run_dir": str(run_dir)},
    )
