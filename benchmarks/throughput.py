"""Training throughput: the plain-Keras tutorial way vs kerasseq's pipeline.

For each model (LSTM, GRU, BiLSTM + Bahdanau attention, Transformer; the
same hyper-parameters for every model and both paths) on the same IMDB
subset, in one process:

(a) plain Keras, as the tutorials do it: ``keras.utils.pad_sequences`` to
    ``--maxlen`` with its default *pre*-padding and truncation, NumPy
    arrays, ``model.fit``, and no mask (the same architecture cloned with
    ``mask_zero=False``);
(b) kerasseq: right padding, masks, `kerasseq.pipeline.make_dataset` as
    `kerasseq.train` uses it: each window of ``--sort-window`` shuffled
    batches sorted by length and cut into full batches, each padded to
    its longest sequence rounded up to a multiple of 8 tokens (32 with
    XLA, to bound the number of compiled shapes), and XLA
    (``jit_compile=True``) where valid, i.e. not for the cuDNN-eligible
    LSTM/GRU layers.

Each path trains one warm-up epoch (tracing, XLA compilation; not
timed), then the two paths alternate for ``--repeats`` timed epochs each;
the median epoch gives samples/second.
Results go to the ``## Throughput`` section of ``benchmarks/RESULTS.md``.

Usage::

    python benchmarks/throughput.py                  # 2,000 reviews, 3 reps
    python benchmarks/throughput.py --samples 64 --repeats 1 --models lstm
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import RESULTS, machine, replace_section  # noqa: E402

from kerasseq import models  # noqa: E402
from kerasseq.datasets import load_dataset  # noqa: E402
from kerasseq.files import data_dir  # noqa: E402
from kerasseq.pipeline import make_dataset  # noqa: E402
from kerasseq.text import Tokenizer  # noqa: E402

SECTION = "## Throughput"
MODELS = ("lstm", "gru", "bilstm_bahdanau", "transformer")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--data", type=Path,
                        default=data_dir() / "imdb.csv.gz")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--samples", type=int, default=2000,
                        help="training reviews (the first N of a seeded "
                        "shuffle of the train split)")
    parser.add_argument("--maxlen", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed epochs after the warm-up epoch")
    parser.add_argument("--max-tokens", type=int, default=20000)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--sort-window", type=int, default=32,
                        help="batches per window sorted by length")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--no-write", action="store_true",
                        help="print only; leave RESULTS.md alone")
    return parser.parse_args(argv)


def hparams_for(name, args):
    """Same-size settings: one embedding/units size, no dropout."""
    if name == "transformer":
        return dict(embedding_dim=args.embedding_dim, num_heads=4,
                    num_blocks=1, intermediate_dim=2 * args.units,
                    max_length=args.maxlen, dropout=0.0)
    return dict(embedding_dim=args.embedding_dim, units=args.units,
                dropout=0.0)


def without_mask(model):
    """`model` cloned with every embedding's ``mask_zero`` switched off."""

    def clone(layer):
        config = layer.get_config()
        if "mask_zero" in config:
            config["mask_zero"] = False
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def compile_and_warm_up(model, data, labels, args, jit_compile):
    """Compiles `model` and runs the untimed warm-up epoch."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  jit_compile=jit_compile)
    epoch_seconds(model, data, labels, args)


def epoch_seconds(model, data, labels, args):
    """Wall time of one training epoch (fit's set-up excluded)."""
    timer = EpochTimer()
    batch_size = None if labels is None else args.batch_size
    model.fit(data, labels, batch_size=batch_size, shuffle=labels is not None,
              epochs=1, callbacks=[timer], verbose=0)
    return timer.seconds[0]


def supports_jit(model):
    """XLA only without cuDNN-eligible LSTM/GRU layers (cuDNN kernels have
    no XLA lowering; on a CPU, XLA also made the masked RNN loop slower)."""
    return not any(models.cudnn_eligible(model).values())


def measure(name, sequences, labels, vocab_size, args):
    keras.utils.set_random_seed(args.seed)
    hparams = hparams_for(name, args)
    kerasseq_model = models.build(name, vocab_size, 2, **hparams)
    plain_model = without_mask(kerasseq_model)

    x = keras.utils.pad_sequences(sequences, maxlen=args.maxlen)
    jit = supports_jit(kerasseq_model)
    dataset = make_dataset(
        sequences, labels, batch_size=args.batch_size, maxlen=args.maxlen,
        seed=args.seed, sort_window=args.sort_window,
        pad_to_multiple_of=32 if jit else 8,
    )
    paths = {
        "plain": (plain_model, x, labels),
        "kerasseq": (kerasseq_model, dataset, None),
    }
    for path, (model, data, y) in paths.items():
        compile_and_warm_up(model, data, y, args,
                            jit_compile=jit if path == "kerasseq" else "auto")
    seconds = {path: [] for path in paths}
    for _ in range(args.repeats):
        for path, (model, data, y) in paths.items():
            seconds[path].append(epoch_seconds(model, data, y, args))
    plain, ours = (statistics.median(seconds[path]) for path in paths)
    count = len(sequences)
    return {
        "model": name,
        "params": kerasseq_model.count_params(),
        "plain": count / plain,
        "kerasseq": count / ours,
        "jit": jit,
    }


def section_text(rows, args, mean_length, started):
    lines = [
        SECTION,
        "",
        f"Written by `benchmarks/throughput.py` on {started:%Y-%m-%d %H:%M} "
        f"UTC. Training samples/second (median of {args.repeats} epochs "
        "after one warm-up epoch) on the same "
        f"{args.samples} IMDB training reviews (mean {mean_length:.0f} "
        f"tokens before truncation), maxlen {args.maxlen}, batch "
        f"{args.batch_size}, vocabulary {args.max_tokens}, embedding "
        f"{args.embedding_dim}, units {args.units}, no dropout.",
        "",
        "- (a) plain Keras: `pad_sequences` (default pre-padding), NumPy "
        "arrays, `model.fit`, no mask (the same model with "
        "`mask_zero=False`).",
        "- (b) kerasseq: right padding + masks, `make_dataset` as "
        "`train()` uses it: windows of "
        f"`sort_window={args.sort_window}` shuffled batches sorted by "
        "length, batches padded to their longest sequence rounded up to a "
        "multiple of 8 tokens (32 with XLA), `jit_compile=True` where valid "
        "(not for cuDNN-eligible LSTM/GRU).",
        "- The two paths alternate epoch by epoch after one warm-up epoch "
        "each, so a change in the machine's load hits both alike.",
        f"- Machine: {machine()}.",
        "- Command: `python benchmarks/throughput.py "
        f"--samples {args.samples} --repeats {args.repeats} "
        f"--maxlen {args.maxlen}`",
        "",
        "| model | params | XLA (b) | plain samples/s | kerasseq samples/s "
        "| ratio |",
        "|---|---:|---|---:|---:|---:|",
        *(
            f"| {r['model']} | {r['params']:,} | "
            f"{'yes' if r['jit'] else 'no'} | {r['plain']:.1f} | "
            f"{r['kerasseq']:.1f} | x{r['kerasseq'] / r['plain']:.2f} |"
            for r in rows
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    data = load_dataset(str(args.data))
    order = np.random.default_rng(args.seed).permutation(
        len(data.train_texts)
    )[: args.samples]
    texts = [data.train_texts[i] for i in order]
    labels = np.asarray(data.train_labels)[order].astype("int32")
    tokenizer = Tokenizer(num_words=args.max_tokens).fit_on_texts(texts)
    sequences = tokenizer.texts_to_sequences(texts)
    mean_length = float(np.mean([len(s) for s in sequences]))
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        row = measure(name, sequences, labels, tokenizer.vocab_size, args)
        rows.append(row)
        print(f"{name}: plain {row['plain']:.1f} samples/s, kerasseq "
              f"{row['kerasseq']:.1f} samples/s, ratio "
              f"x{row['kerasseq'] / row['plain']:.2f}", flush=True)
    if not args.no_write:
        replace_section(args.results, SECTION,
                        section_text(rows, args, mean_length, started))
        print(f"wrote {args.results}")
    return rows


if __name__ == "__main__":
    main()
