"""A trained classifier from Python: `load` a run or an export, then predict.

    predictor = kerasseq.predictor.load("runs/bilstm_bahdanau")
    predictor.predict(["a great film"])          # ["positive"]
    # multi-label runs: the label set of each text, [["earn", "acq"]]
    predictor.predict_proba(["a great film"])    # [[0.03, 0.97]]
    predictor.explain("not at all funny")        # per-token importances
    predictor.evaluate("reviews.csv")            # the metrics of a run

`load` takes a finished run directory (``kerasseq train``) or an export
folder (`kerasseq.exporter.export`, e.g. ``RUN_DIR/saved_model``). Both
give the same predictions: the texts are tokenized with the saved
tokenizer, right-padded (and truncated) to the saved ``maxlen`` and fed
to the model on token ids, exactly what the export's graph does.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kerasseq.errors import ArtifactError, DataError

PREDICT_BATCH_SIZE = 256


@dataclasses.dataclass(frozen=True)
class TokenExplanation:
    """One token of an explained text.

    Attributes:
        token: the token as the tokenizer splits it (standardized).
        importance: leave-one-token-out importance: the predicted
            class's probability minus that probability with this token
            removed (positive: the token supports the prediction).
        attention: the model's attention weight on the token, ``None``
            without an attention layer; 0 for tokens past ``maxlen``
            (the model never sees them).
    """

    token: str
    importance: float
    attention: float | None


@dataclasses.dataclass(frozen=True)
class Explanation:
    """What `Predictor.explain` returns for one text."""

    text: str
    label: str
    probability: float
    tokens: list
    attention_available: bool

    def __str__(self):
        lines = [f"{self.label} ({self.probability:.3f}): {self.text!r}"]
        if not self.attention_available:
            lines.append("attention: unavailable (the model has no "
                         "attention layer); importance: leave-one-out")
        for item in self.tokens:
            attention = ("" if item.attention is None
                         else f"  attention {item.attention:.3f}")
            lines.append(f"  {item.token:<20} importance "
                         f"{item.importance:+.3f}{attention}")
        return "\n".join(lines)


class Predictor:
    """A model on token ids with its tokenizer, class names and maxlen.

    Build one with `load`. Methods taking texts accept a list, tuple,
    1-D NumPy array (``str`` or ``object`` dtype) or pandas Series of
    strings. `thresholds` (one per class) marks a multi-label model.
    """

    def __init__(self, model, tokenizer, class_names, maxlen, source,
                 thresholds=None):
        self.model = model
        self.tokenizer = tokenizer
        self.class_names = list(class_names)
        self.maxlen = maxlen
        self.source = source
        self.thresholds = (None if thresholds is None
                           else np.asarray(thresholds, dtype="float32"))
        self._attention = None

    @property
    def multi_label(self):
        """Whether the model predicts a set of labels per text."""
        return self.thresholds is not None

    def __repr__(self):
        return (f"Predictor(source={str(self.source)!r}, "
                f"model={self.model.name!r}, "
                f"class_names={self.class_names!r})")

    def predict_proba(self, texts):
        """Class probabilities ``[len(texts), len(class_names)]``."""
        texts = as_texts(texts)
        return self._probabilities(self.tokenizer.texts_to_sequences(texts))

    def predict(self, texts):
        """The most probable class name of each text, as a list; for a
        multi-label model the list of labels at or above their
        thresholds, per text."""
        probabilities = self.predict_proba(texts)
        if self.multi_label:
            names = np.asarray(self.class_names, dtype=object)
            return [names[row >= self.thresholds].tolist()
                    for row in probabilities]
        return [self.class_names[i] for i in probabilities.argmax(axis=1)]

    def explain(self, text):
        """Per-token importance (and attention) for one text.

        Every model gets the leave-one-token-out importance; models with
        an attention layer also the attention weights, others report
        ``attention_available=False``.

        Raises:
            DataError: `text` is not a single string.
        """
        if not isinstance(text, str):
            raise DataError(
                f"Expected one text (a str) to explain. Received "
                f"{type(text).__name__} ({text!r:.60}); pass one string, "
                "e.g. predictor.explain(texts[0])."
            )
        tokens = self._tokens(text)
        sequence = self.tokenizer.texts_to_sequences([text])[0]
        without_each = [sequence[:i] + sequence[i + 1:]
                        for i in range(len(sequence))]
        probabilities = self._probabilities([sequence, *without_each])
        predicted = int(probabilities[0].argmax())
        importances = probabilities[0, predicted] - probabilities[1:,
                                                                  predicted]
        attention = self._attention_weights(sequence)
        return Explanation(
            text=text,
            label=self.class_names[predicted],
            probability=float(probabilities[0, predicted]),
            tokens=[
                TokenExplanation(
                    token, float(importance),
                    None if attention is None else float(attention[i]),
                )
                for i, (token, importance) in enumerate(
                    zip(tokens, importances, strict=True))
            ],
            attention_available=attention is not None,
        )

    def evaluate(self, source, **data_options):
        """Metrics on the test split of `source` (`kerasseq.load_dataset`
        with `data_options`), as `kerasseq.reporting.compute_metrics`
        gives them for a run. Labels are matched by class name.

        Raises:
            DataError: `source` has no test examples or has labels the
                model does not know.
        """
        from kerasseq.datasets import load_dataset
        from kerasseq.multilabel_reporting import compute_multilabel_metrics
        from kerasseq.reporting import compute_metrics

        if self.multi_label:
            data_options = {"multi_label": True, **data_options}
        dataset = load_dataset(source, **data_options)
        unknown = sorted(set(dataset.class_names) - set(self.class_names))
        if unknown:
            raise DataError(
                f"{source} has labels the model was not trained on: "
                f"{', '.join(map(str, unknown))}; the model knows "
                f"{', '.join(self.class_names)}"
            )
        if len(dataset.test_texts) == 0:
            raise DataError(f"{source} has no test examples to evaluate on")
        to_model_id = np.array(
            [self.class_names.index(name) for name in dataset.class_names])
        y_prob = self.predict_proba(dataset.test_texts)
        if self.multi_label:
            y_true = np.zeros_like(y_prob)
            y_true[:, to_model_id] = dataset.test_labels
            return compute_multilabel_metrics(
                y_true, y_prob, self.class_names, self.thresholds)
        y_true = to_model_id[np.asarray(dataset.test_labels)]
        return compute_metrics(y_true, y_prob, self.class_names)

    def _probabilities(self, sequences):
        from kerasseq.text import pad

        if not sequences:
            return np.zeros((0, len(self.class_names)), dtype="float32")
        ids = pad(sequences, self.maxlen)
        return np.concatenate([
            np.asarray(self.model.predict_on_batch(
                ids[start : start + PREDICT_BATCH_SIZE]))
            for start in range(0, len(ids), PREDICT_BATCH_SIZE)
        ])

    def _tokens(self, text):
        from kerasseq.text import tokenize

        return tokenize([text], self.tokenizer.lower,
                        self.tokenizer.mask_digits,
                        self.tokenizer.split_symbols)[0]

    def _attention_weights(self, sequence):
        """Attention weights of `sequence`'s tokens (0 past ``maxlen``),
        or None for a model without attention."""
        from kerasseq.models import attention_model
        from kerasseq.text import pad

        if self._attention is None:
            self._attention = attention_model(self.model) or False
        if self._attention is False:
            return None
        weights = np.zeros(len(sequence))
        if sequence:
            seen = min(len(sequence), self.maxlen)
            row = np.asarray(self._attention.predict_on_batch(
                pad([sequence], self.maxlen)))[0]
            weights[:seen] = row[:seen]
        return weights


def as_texts(texts):
    """`texts` as a list of str; `DataError` for anything else.

    Accepts a list, tuple, 1-D NumPy array or pandas Series of strings.
    """
    if isinstance(texts, (str, bytes)):
        raise DataError(
            "Expected a list of strings (list, NumPy array or pandas "
            f"Series). Received a single {type(texts).__name__}; wrap it "
            "in a list: [text]."
        )
    if hasattr(texts, "to_numpy") and not isinstance(texts, np.ndarray):
        texts = texts.to_numpy()  # pandas Series / Index / DataFrame
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise DataError(
            "Expected a list of strings (list, NumPy array or pandas "
            f"Series). Received an array of shape {texts.shape}; pass a "
            "1-D array or a single column."
        )
    try:
        texts = list(texts)
    except TypeError:
        raise DataError(
            "Expected a list of strings (list, NumPy array or pandas "
            f"Series). Received {type(texts).__name__}."
        ) from None
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                "Expected a list of strings (list, NumPy array or pandas "
                f"Series). Received {type(text).__name__} at position "
                f"{row} ({text!r:.60}); convert it to str or drop it."
            )
    return [str(text) for text in texts]


def load(path):
    """A `Predictor` for a finished run directory or an export folder.

    Raises:
        ArtifactError: `path` is neither, or one of its files is missing
            or unreadable.
    """
    path = Path(path)
    if (path / "run.json").is_file():
        return _load_run(path)
    if (path / "kerasseq.json").is_file():
        return _load_export(path)
    raise ArtifactError(
        f"{path} is neither a kerasseq run directory (run.json) nor an "
        "export folder (kerasseq.json); pass the --out of `kerasseq train` "
        "or the folder written by kerasseq.export(...)"
    )


def _load_run(path):
    from kerasseq import training

    if training.run_status(path) != "finished":
        raise ArtifactError(
            f"{path} holds an unfinished run; finish it (call train again "
            "with the same config to resume) before loading it"
        )
    model, tokenizer, record = training.load_run(path)
    thresholds = record.get("thresholds")
    return Predictor(
        model, tokenizer, record["class_names"], record["config"]["maxlen"],
        path, None if thresholds is None
        else [thresholds[name] for name in record["class_names"]],
    )


def _load_export(path):
    import keras

    import kerasseq.models  # noqa: F401  (registers the custom layers)
    from kerasseq import exporter
    from kerasseq.text import Tokenizer
    from kerasseq.training.evaluation import check_vocabulary

    metadata = exporter.read_metadata(path)
    files = [path / exporter.KERAS_FILE, path / exporter.TOKENIZER_FILE]
    for file in files:
        if not file.is_file():
            raise ArtifactError(
                f"{file} not found: {path} is an incomplete export. "
                "Export the model again with kerasseq.export(...)."
            )
    tokenizer = Tokenizer.from_json(files[1].read_text(encoding="utf-8"))
    try:
        string_model = keras.saving.load_model(files[0])
    except (OSError, ValueError, TypeError) as error:
        raise ArtifactError(f"cannot load {files[0]}: {error}") from None
    # The export's model is text -> vectorizer -> the trained ids model.
    inner = [layer for layer in string_model.layers
             if isinstance(layer, keras.Model)]
    if len(inner) != 1:
        raise ArtifactError(
            f"{files[0]} does not hold one trained model behind its text "
            "vectorizer. Export the model again with kerasseq.export(...)."
        )
    check_vocabulary(files[1], tokenizer, inner[0],
                     metadata.get("vocab_size"))
    thresholds = metadata.get("thresholds")
    return Predictor(
        inner[0], tokenizer, metadata["class_names"], metadata["maxlen"],
        path, None if thresholds is None
        else [thresholds[name] for name in metadata["class_names"]],
    )
