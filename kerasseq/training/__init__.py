"""One training run: a `TrainConfig` in, a run directory out.

`train` checks everything a user can get wrong (config values, model
hyper-parameters, the data) before it creates the run directory, so bad
input leaves nothing behind. `kerasseq.training.rundir` describes the
files the run directory then holds.

A run interrupted before ``status: finished`` resumes from its last
finished epoch when `train` is called again with the same config and
``out``; except with ``strategy="multiworker"`` (no ``backup/``: start
over with ``overwrite``). There every worker runs the same `train` with
its own ``TF_CONFIG``, only the chief writes ``out``.

Modules: `kerasseq.config` (the config), `rundir` (run-directory
protocol), `distribution` (strategies, multi-worker loop), `fitting`
(datasets, callbacks, fit, refit), `evaluation` (`score`, `load_run`,
`evaluate`).
"""

import dataclasses
import os
import tempfile
import time
from pathlib import Path

from kerasseq.config import TrainConfig, apply_overrides, coerce
from kerasseq.errors import ConfigError, DataError
from kerasseq.files import write_json
from kerasseq.training import distribution, fitting, rundir
from kerasseq.training.evaluation import (
    Scores,
    evaluate,
    load_run,
    predict_proba,
    score,
)
from kerasseq.training.fitting import TrainingInterrupted
from kerasseq.training.rundir import (
    CONFIG_FILE,
    finish_run,
    run_status,
    start_run,
)

__all__ = [
    "CONFIG_FILE",
    "RunResult",
    "Scores",
    "TrainConfig",
    "TrainingInterrupted",
    "apply_overrides",
    "coerce",
    "evaluate",
    "finish_run",
    "load_run",
    "predict_proba",
    "run_status",
    "score",
    "start_run",
    "train",
]


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the run directory and the trained objects.

    `config` is the resolved config (``maxlen`` and ``hparams`` filled in).
    """

    run_dir: Path
    metrics: dict
    model: object
    tokenizer: object
    class_names: list
    config: TrainConfig


def train(config, *, verbose=1, dataset=None, callbacks=()):
    """Trains, evaluates, saves and exports one model.

    Args:
        config: a `TrainConfig` or a dict for `TrainConfig.from_dict`.
        verbose: Keras ``fit`` verbosity (1 = progress bar, 0 = silent).
        dataset: the `kerasseq.datasets.TextDataset` that ``config.data``
            names, if it is already loaded (ensembles load it once).
        callbacks: extra `keras.callbacks.Callback` objects, called after
            the run's own (CSV log, backup, early stopping, plateau,
            TensorBoard) in the validated fit and, with ``refit``, again
            in the refit's fit (a second ``on_train_begin``; no ``val_``
            logs there).

    Returns:
        A `RunResult` (run_dir, metrics, model, tokenizer, class_names,
        config); ``run_dir`` is ``None`` on a multiworker worker other
        than the chief (it writes nothing in ``out``).

    Raises:
        ConfigError / DataError: bad config, hyper-parameters or data
            (raised before the run directory is created).
        TrainingInterrupted: Ctrl-C during fit; calling `train` again
            with the same config resumes from the last finished epoch.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ConfigError(
            f"Expected a TrainConfig or a dict. Received "
            f"{type(config).__name__}."
        )
    callbacks = _checked_callbacks(callbacks)
    if (config.strategy == "multiworker"
            and not distribution.is_multiworker_chief()):
        # Keras' multi-worker recipe: every worker runs the same program,
        # the others write into a scratch folder and leave `out` to the
        # chief. Their RunResult has no run directory.
        with tempfile.TemporaryDirectory(prefix="kerasseq-worker-") as tmp:
            result = _train(dataclasses.replace(config, out=tmp), verbose,
                            dataset, callbacks)
        return dataclasses.replace(
            result, run_dir=None,
            config=dataclasses.replace(result.config, out=config.out),
        )
    return _train(config, verbose, dataset, callbacks)


def _checked_callbacks(callbacks):
    """`callbacks` as a list of Keras callbacks.

    Raises:
        ConfigError: not a list or tuple of `keras.callbacks.Callback`.
    """
    import keras

    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, keras.callbacks.Callback) for c in callbacks):
        raise ConfigError(
            f"callbacks must be a list of keras.callbacks.Callback "
            f"objects; got {callbacks!r}"
        )
    return list(callbacks)


def _train(config, verbose, dataset, callbacks):
    run_dir = Path(config.out)
    status = run_status(run_dir)
    rundir.refuse_finished(run_dir, status, config.overwrite)
    if (config.strategy == "multiworker" and status == "running"
            and not config.overwrite):
        raise ConfigError(
            f"{run_dir} holds an unfinished run; strategy 'multiworker' "
            "cannot resume (no BackupAndRestore across workers); use "
            "overwrite=True to start over or another out=DIR"
        )

    import keras
    import numpy as np

    from kerasseq import models, vectors
    from kerasseq.datasets import load_dataset

    word_vectors = None
    if config.embeddings is not None:
        config = dataclasses.replace(
            config, embeddings=os.fspath(config.embeddings))
        word_vectors = vectors.load_vectors(config.embeddings)
        config = dataclasses.replace(config, hparams=vectors.model_hparams(
            config.model, config.hparams, word_vectors))
    hparams = models.resolve_hparams(config.model, **config.hparams)
    strategy = distribution.make_strategy(config)
    if dataset is None:
        dataset = load_dataset(config.data, **config.dataset_options())
    if dataset.multi_label != config.multi_label:
        raise ConfigError(
            f"{config.data}: the dataset is "
            f"{'' if dataset.multi_label else 'not '}multi-label but "
            f"multi_label is {config.multi_label}; set --multi-label to "
            "match the data"
        )
    if len(dataset.test_texts) == 0:
        raise DataError(
            f"{config.data} has no test examples; give it a test split"
        )
    train_texts, train_labels, val_texts, val_labels = (
        dataset.validation_split(config.validation_fraction, config.seed)
    )
    tokenizer = fitting.fit_tokenizer(config, train_texts)
    coverage = None
    if word_vectors is not None:
        coverage = vectors.coverage(word_vectors, tokenizer).to_dict()
        print(f"embeddings {config.embeddings}: "
              f"{vectors.Coverage(**coverage)}, embedding_dim "
              f"{word_vectors.vector_size}")
    config = dataclasses.replace(
        config, maxlen=config.maxlen or tokenizer.maxlen, hparams=hparams
    )
    if config.maxlen > hparams.get("max_length", config.maxlen):
        raise ConfigError(
            f"maxlen {config.maxlen} exceeds max_length "
            f"{hparams['max_length']} of model {config.model!r}; lower "
            f"maxlen or raise max_length "
            f"(hparams={{'max_length': {config.maxlen}}})"
        )
    class_names = list(dataset.class_names)
    if isinstance(config.class_weight, dict):
        # Recorded by class name: config.json reruns it exactly.
        config = dataclasses.replace(
            config, class_weight=fitting.class_weight_by_name(
                config.class_weight, class_names))
    class_weight = fitting.class_weights(config, train_labels, class_names)
    record = {
        "config": config.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "class_names": class_names,
        "n_train": len(train_texts),
        "n_validation": len(val_texts),
        "n_test": len(dataset.test_texts),
        **({"embeddings_coverage": coverage} if coverage else {}),
    }

    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    train_sequences = tokenizer.texts_to_sequences(train_texts)
    splits = (train_sequences, train_labels,
              tokenizer.texts_to_sequences(val_texts), val_labels)
    datasets = fitting.training_datasets(config, splits, strategy)
    with distribution.precision_policy(config.mixed_precision):
        model = fitting.compiled_model(
            config, strategy, tokenizer, len(class_names), datasets[0],
            (train_sequences, train_labels),
        )
        if start_run(run_dir, status, record, config.overwrite):
            print(f"resuming the unfinished run in {run_dir} after "
                  f"{rundir.finished_epochs(run_dir)} finished epoch(s)")
        start = time.perf_counter()
        model = fitting.fit(config, run_dir, model, strategy, datasets,
                            class_weight, verbose, callbacks)
        train_seconds = round(time.perf_counter() - start, 2)
        history = rundir.read_log(run_dir)
        thresholds = None
        if config.multi_label:
            thresholds = fitting.choose_thresholds(
                config, model, splits[2], val_labels)
            record["thresholds"] = dict(
                zip(class_names, thresholds.tolist(), strict=True))
            rundir.write_record(run_dir, record)
        refit = {}
        if config.refit:
            epochs = fitting.refit_epochs(config, history)
            start = time.perf_counter()
            model, tokenizer = fitting.refit(
                config, run_dir, strategy, class_names,
                (train_texts + val_texts,
                 np.concatenate([train_labels, val_labels])),
                epochs, verbose, callbacks,
            )
            refit = {"refit_epochs": epochs,
                     "refit_seconds": round(time.perf_counter() - start, 2)}
        scores = score(
            model, tokenizer, dataset.test_texts, dataset.test_labels,
            class_names=class_names, batch_size=config.batch_size,
            maxlen=config.maxlen, attention=True, thresholds=thresholds,
        )
        metrics = scores.report(run_dir, history=history, extra={
            "epochs_run": len(history.get("loss", [])),
            "train_seconds": train_seconds, "model": config.model,
            **({"embeddings_coverage": coverage} if coverage else {}),
            **refit,
        })
        rundir.save_model(run_dir, model, tokenizer)
        if config.refit:
            rundir.write_record(
                run_dir, {**record, "vocab_size": tokenizer.vocab_size})
        write_json(run_dir / "environment.json",
                          distribution.environment(config, strategy, model))
        if config.export:
            from kerasseq import exporter

            exporter.export(
                model, tokenizer, class_names, run_dir / "saved_model",
                maxlen=config.maxlen, overwrite=True,
                metadata={
                    "model_name": config.model,
                    "model_config": hparams,
                    "metrics": {k: metrics[k] for k in (
                        ("micro_f1", "macro_f1") if config.multi_label
                        else ("accuracy", "macro_f1"))},
                    "data": config.data,
                },
                thresholds=thresholds,
            )
    finish_run(run_dir, epochs_run=metrics["epochs_run"])
    return RunResult(run_dir, metrics, model, tokenizer, class_names, config)
