"""Classify texts with a kerasseq portable export (ONNX or TFLite).

Usage, from inside the export folder or with its path::

    python predict_example.py "a great film" "a dull film"
    python predict_example.py --export-dir EXPORT_DIR "some text"

Prints one JSON object per text: the text, the predicted label and the
probability of every class. Needs only NumPy and the runtime of the model
file: ``onnxruntime`` for ``model.onnx``; for ``model.tflite`` one of
``ai_edge_litert``, ``tflite_runtime`` or ``tensorflow``. It does not
need kerasseq: the standardization below re-implements
``kerasseq.text.standardizer`` (lower-case, digits, apostrophes,
punctuation and symbols) with Unicode categories from `unicodedata`.
"""

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np

PAD_ID = 0
OOV_ID = 1
_TRAILING_APOSTROPHES = re.compile(r"'+( |\Z)")
_LEADING_APOSTROPHES = re.compile(r"(\A| )'+")


def _is_word_char(char):
    # RE2 [\pL\pN\pM]: letters, numbers and marks.
    return unicodedata.category(char)[0] in "LNM"


def _separate_symbols(text):
    # RE2: [^\pL\pN\pM\pP\pS] -> " ", then (?:[^\PP']|\pS)\pM* -> " \0 ".
    pieces = []
    start = 0
    while start < len(text):
        char = text[start]
        kind = unicodedata.category(char)[0]
        end = start + 1
        if kind in "PS" and char != "'":
            while (
                end < len(text) and unicodedata.category(text[end])[0] == "M"
            ):
                end += 1
            pieces.append(f" {text[start:end]} ")
        elif kind in "LNM" or char == "'":
            pieces.append(char)
        else:
            pieces.append(" ")
        start = end
    return "".join(pieces)


def standardize(text, lower=True, mask_digits=False, split_symbols=False):
    """The words of `text`, as ``kerasseq.text.tokenize`` gives them."""
    if lower:  # tf.strings.lower stops at the first NUL
        text = text.split("\0", 1)[0].lower()
    if mask_digits:
        text = "".join(
            "0" if unicodedata.category(c) == "Nd" else c for c in text
        )
    text = text.replace("\u2019", "'")
    if split_symbols:
        text = _separate_symbols(text)
    else:
        text = "".join(c if c == "'" or _is_word_char(c) else " " for c in text)
    text = _TRAILING_APOSTROPHES.sub(" ", text)
    text = _LEADING_APOSTROPHES.sub(" ", text)
    return text.split()


class Vocabulary:
    """Maps texts to right-padded int32 ids as kerasseq's Tokenizer does."""

    def __init__(self, tokenizer_json, maxlen):
        config = json.loads(tokenizer_json)
        words = [word for word, _ in config["word_counts"]]
        if config["num_words"] is not None:
            words = words[: config["num_words"] - 2]
        self.ids = {word: i for i, word in enumerate(words, start=2)}
        self.options = {
            name: config[name]
            for name in ("lower", "mask_digits", "split_symbols")
        }
        self.maxlen = maxlen

    def sequence(self, text):
        """The ids of the words of `text` (not padded)."""
        words = standardize(text, **self.options)
        return [self.ids.get(word, OOV_ID) for word in words]

    def padded(self, texts):
        """Ids ``[len(texts), maxlen]``, padded and truncated at the end."""
        batch = np.full((len(texts), self.maxlen), PAD_ID, dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.sequence(text)[: self.maxlen]
            batch[row, : len(ids)] = ids
        return batch


class OnnxModel:
    """``model.onnx`` run with onnxruntime; ids ``[batch, maxlen]``."""

    def __init__(self, path):
        import onnxruntime

        self.session = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, ids):
        return self.session.run(None, {self.input_name: ids})[0]


def _tflite_interpreter(path):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            import tensorflow as tf

            Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path))


class TFLiteModel:
    """``model.tflite`` run with the TFLite interpreter, one text a call
    (the model's input is ids ``[1, maxlen]``)."""

    def __init__(self, path):
        self.interpreter = _tflite_interpreter(path)
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        self.output_index = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, ids):
        rows = []
        for row in ids:
            self.interpreter.set_tensor(self.input_index, row[None, :])
            self.interpreter.invoke()
            rows.append(self.interpreter.get_tensor(self.output_index)[0])
        return np.stack(rows)


def load(export_dir):
    """``(vocabulary, model, class_names)`` of the export in `export_dir`."""
    export_dir = Path(export_dir)
    metadata = json.loads((export_dir / "metadata.json").read_text("utf-8"))
    vocabulary = Vocabulary(
        (export_dir / "tokenizer.json").read_text("utf-8"),
        metadata["maxlen"],
    )
    model_file = export_dir / metadata["model_file"]
    if model_file.suffix == ".onnx":
        model = OnnxModel(model_file)
    else:
        model = TFLiteModel(model_file)
    return vocabulary, model, metadata["class_names"]


def predict(export_dir, texts):
    """Class probabilities ``[len(texts), classes]`` (float32)."""
    vocabulary, model, _ = load(export_dir)
    return model(vocabulary.padded(texts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("texts", nargs="+", help="texts to classify")
    parser.add_argument(
        "--export-dir",
        default=Path(__file__).resolve().parent,
        help="the export folder (default: this script's folder)",
    )
    args = parser.parse_args(argv)
    vocabulary, model, class_names = load(args.export_dir)
    probabilities = model(vocabulary.padded(args.texts))
    for text, row in zip(args.texts, probabilities, strict=True):
        print(
            json.dumps(
                {
                    "text": text,
                    "label": class_names[int(np.argmax(row))],
                    "probabilities": dict(
                        zip(class_names, map(float, row), strict=True)
                    ),
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    sys.exit(main())
