"""Serving benchmark: exported signature vs the naive Python path.

Measures, in one run and on the same texts:

* single-text latency (p50/p99 over ``--calls`` requests of one text),
* batch throughput (texts/s at ``--batch-size``, default 256),

for (a) the export's ``serving_default`` signature loaded with
``tf.saved_model.load`` (strings in, everything in the graph) and (b) the
naive way: Python ``Tokenizer.texts_to_sequences`` + ``pad`` +
``model.predict`` per request.

Usage::

    python benchmarks/serving.py                  # builds a small export
    python benchmarks/serving.py --export PATH --calls 1000
"""

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasseq  # noqa: E402
from kerasseq import exporter  # noqa: E402
from kerasseq.text import Tokenizer, pad  # noqa: E402

CORPUS = "builtin:synthetic_sentiment"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export", type=Path, help="existing export dir")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--epochs", type=int, default=1)
    return parser.parse_args(argv)


def build_export(model_name, epochs, path):
    """Train a small `model_name` on the built-in corpus and export it."""
    data = kerasseq.load_dataset(CORPUS, n=2000)
    tokenizer = Tokenizer(num_words=5000).fit_on_texts(data.train_texts)
    model = kerasseq.models.build(
        model_name, tokenizer.vocab_size, data.num_classes
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(
        tokenizer.texts_to_padded(data.train_texts),
        data.train_labels,
        epochs=epochs,
        batch_size=64,
        verbose=0,
    )
    exporter.export(
        model,
        tokenizer,
        data.class_names,
        path,
        metadata={"model_name": model_name},
    )
    return data.test_texts


def load_naive(path):
    """Tokenizer and id-model of an export, for the naive Python path."""
    tokenizer = Tokenizer.from_json((path / "tokenizer.json").read_text())
    string_model = keras.models.load_model(path / "model.keras")
    (id_model,) = [
        layer for layer in string_model.layers if isinstance(layer, keras.Model)
    ]
    return tokenizer, id_model, exporter.read_metadata(path)["maxlen"]


def latencies_ms(function, texts, calls):
    for text in texts[:10]:
        function([text])
    times = []
    for i in range(calls):
        start = time.perf_counter()
        function([texts[i % len(texts)]])
        times.append((time.perf_counter() - start) * 1000)
    return np.percentile(times, 50), np.percentile(times, 99)


def throughput(function, texts, batch_size, batches):
    batch_list = [
        [texts[(i * batch_size + j) % len(texts)] for j in range(batch_size)]
        for i in range(batches)
    ]
    function(batch_list[0])
    start = time.perf_counter()
    for batch in batch_list:
        function(batch)
    return batch_size * batches / (time.perf_counter() - start)


def cpu_name():
    try:
        lines = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    names = [
        line.split(":", 1)[1].strip() for line in lines if "Model name" in line
    ]
    return names[0] if names else platform.processor()


def main(argv=None):
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.export is None:
            path = Path(tmp) / "export"
            texts = build_export(args.model, args.epochs, path)
        else:
            path = args.export
            texts = kerasseq.load_dataset(CORPUS, n=2000).test_texts
        serve = exporter.load_export(path)
        tokenizer, model, maxlen = load_naive(path)

        def exported(batch):
            return serve(tf.constant(batch))["probabilities"].numpy()

        def naive(batch):
            ids = pad(tokenizer.texts_to_sequences(batch), maxlen)
            return model.predict(ids, batch_size=len(batch), verbose=0)

        check = texts[:64]
        np.testing.assert_allclose(exported(check), naive(check), atol=1e-5)
        rows = {}
        for name, function in (("export", exported), ("naive", naive)):
            p50, p99 = latencies_ms(function, texts, args.calls)
            rate = throughput(function, texts, args.batch_size, args.batches)
            rows[name] = (p50, p99, rate)

    print(
        f"machine: {cpu_name()}, {os.cpu_count()} CPUs; "
        f"tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"python {platform.python_version()}"
    )
    print(
        f"export: {args.export or f'fresh {args.model}, {CORPUS}'}; "
        f"maxlen {maxlen}; {args.calls} single-text calls; "
        f"{args.batches} batches of {args.batch_size}"
    )
    print()
    print(
        "| path | p50 ms (1 text) | p99 ms (1 text) | texts/s (batch "
        f"{args.batch_size}) |"
    )
    print("|---|---:|---:|---:|")
    labels = {
        "export": "SavedModel `serving_default` (strings in)",
        "naive": "Python tokenizer + pad + `model.predict`",
    }
    for name, (p50, p99, rate) in rows.items():
        print(f"| {labels[name]} | {p50:.2f} | {p99:.2f} | {rate:,.0f} |")
    (e50, e99, erate), (n50, n99, nrate) = rows["export"], rows["naive"]
    print()
    print(
        f"ratio naive/export: p50 latency x{n50 / e50:.1f}, p99 latency "
        f"x{n99 / e99:.1f}; throughput export/naive x{erate / nrate:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
