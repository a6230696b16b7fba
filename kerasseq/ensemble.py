"""Averaging models: several `train()` runs become one model.

`train_ensemble(config, members)` trains each member with
`kerasseq.training.train` on the same data, seed, validation split and
tokenizer settings (hence the same token ids), then averages the
members' class probabilities in one Keras model (`keras.layers.Average`
over their outputs). That model is evaluated, saved and exported like
any run: the run directory holds the files `kerasseq train` writes
(``metrics.json``, reports, ``model.keras``, ``tokenizer.json``,
``saved_model/``) plus ``members/``, one finished run per member.

A member with ``repeats=N`` is itself the average of N runs of the same
settings with seeds ``seed``, ``seed + 1``, ... (seed bagging: each run
draws its own validation split, initial weights and batch order, and
their average varies less than any one of them). It needs ``refit``
and a fixed ``maxlen``, so that every run ends with the same tokenizer.
"""

import dataclasses
import time
from pathlib import Path

from kerasseq import training
from kerasseq.config import TrainConfig
from kerasseq.datasets import load_dataset
from kerasseq.errors import ConfigError
from kerasseq.training import rundir

# Fields every member takes from the ensemble's config: the data, the
# split and the tokenizer must be the same for the ids to be shared (a
# refit fits the tokenizer again on all of train, so refit is shared too).
SHARED_FIELDS = (
    "data", "data_options", "seed", "validation_fraction", "max_tokens",
    "mask_digits", "split_symbols", "maxlen", "refit", "out", "export",
    "overwrite", "strategy", "devices", "deterministic", "mixed_precision",
)


def member_configs(config, members):
    """One list of `TrainConfig` per member dict (``model``, ``hparams``,
    optional ``repeats`` and training fields such as ``epochs`` or
    ``patience``), the shared fields taken from `config`: ``repeats``
    configs (default 1) whose seeds count up from ``config.seed``. Runs go
    to ``<config.out>/members/<i>-<model>`` (``...-r<k>`` with repeats).

    Raises:
        ConfigError: fewer than two members, a member without ``model``,
            a member setting a shared field, or a bad value.
    """
    if not isinstance(members, (list, tuple)) or len(members) < 2:
        raise ConfigError(
            "Expected a list of at least two members (dicts with a "
            f"'model' key). Received: {members!r}"
        )
    configs = []
    for index, member in enumerate(members):
        if not isinstance(member, dict) or not member.get("model"):
            raise ConfigError(
                f"Expected member {index} to be a dict with a 'model' key. "
                f"Received: {member!r}"
            )
        shared = sorted(set(member) & set(SHARED_FIELDS))
        if shared:
            raise ConfigError(
                f"member {index} sets {shared[0]!r}, which every member "
                "shares; set it on the ensemble's config instead"
            )
        member = dict(member)
        repeats = member.pop("repeats", 1)
        if isinstance(repeats, bool) or not isinstance(repeats, int) or (
                repeats < 1):
            raise ConfigError(
                f"Expected member {index}'s repeats to be an int >= 1. "
                f"Received: repeats={repeats!r}"
            )
        name = f"{index}-{member['model']}"
        runs = []
        for repeat in range(repeats):
            out = Path(config.out) / "members" / (
                f"{name}-r{repeat}" if repeats > 1 else name)
            values = {**config.to_dict(), "hparams": {}, **member,
                      "seed": config.seed + repeat, "out": str(out),
                      "export": False, "overwrite": False}
            runs.append(TrainConfig.from_dict(values))
        configs.append(runs)
    return configs


def train_ensemble(config, members, *, verbose=1):
    """Trains the `members` and writes the averaged model's run.

    Args:
        config: `kerasseq.config.TrainConfig` for the shared fields
            (`SHARED_FIELDS`), ``out`` and ``export``; its ``model`` is
            only the run's name (e.g. ``"ensemble"``).
        members: list of dicts, each a ``model`` name plus optional
            ``hparams``, ``repeats`` (seed bagging, see the module
            docstring) and training fields (``epochs``, ``batch_size``,
            ``learning_rate``, ``patience``, ...).
        verbose: Keras verbosity for the members' fits.

    Returns:
        `kerasseq.training.RunResult` of the averaged model; an
        interrupted ensemble resumes when called again (finished members
        are loaded, not retrained).
    """
    if config.multi_label:
        raise ConfigError(
            "ensembles do not support multi_label yet (members are "
            "averaged as softmax classifiers); train one multi-label model")
    configs = member_configs(config, members)
    for index, runs in enumerate(configs):
        if len(runs) > 1 and not (config.refit and config.maxlen):
            raise ConfigError(
                f"member {index} has repeats={len(runs)}, which needs "
                "refit=True and a fixed maxlen (e.g. maxlen=64): each "
                "repeat draws its own validation split, and only the "
                "refit's tokenizer and a fixed maxlen are the same for all"
            )
    run_dir = Path(config.out)
    status = rundir.run_status(run_dir)
    rundir.refuse_finished(run_dir, status, config.overwrite)
    record = {"config": config.to_dict(),
              "members": [[c.to_dict() for c in runs] for runs in configs]}
    if status == "running" and not config.overwrite and (
            run_dir / rundir.CONFIG_FILE).is_file() and (
            rundir.read_record(run_dir).get("members") != record["members"]):
        # Finished members are loaded, not retrained: they must be the
        # ones asked for.
        raise ConfigError(
            f"{run_dir} holds an unfinished ensemble with other members; "
            "use overwrite=True or another out=DIR"
        )
    dataset = load_dataset(config.data, **config.data_options)
    rundir.start_run(run_dir, status, record, config.overwrite)
    results = [
        [_load_member(run) if rundir.run_status(run.out) == "finished"
         else training.train(run, verbose=verbose, dataset=dataset)
         for run in runs]
        for runs in configs
    ]
    return _average(config, run_dir, results, dataset)


def _load_member(config):
    model, tokenizer, record = training.load_run(config.out)
    return training.RunResult(
        Path(config.out), rundir.read_metrics(config.out), model, tokenizer,
        list(record["class_names"]), TrainConfig.from_dict(record),
    )


def _average(config, run_dir, results, dataset):
    from kerasseq import exporter

    runs = [run for member in results for run in member]
    first = runs[0]
    for result in runs[1:]:
        if (result.tokenizer.to_json() != first.tokenizer.to_json()
                or result.class_names != first.class_names
                or result.config.maxlen != first.config.maxlen):
            raise ConfigError(
                f"members {first.run_dir.name} and {result.run_dir.name} "
                "differ in tokenizer, classes or maxlen; set the shared "
                "fields on the ensemble's config only"
            )
    start = time.perf_counter()
    members = [_member_model(i, member) for i, member in enumerate(results)]
    model = _average_of(members, "ensemble", average_name="average")
    maxlen = first.config.maxlen

    def score_on_test(model):
        return training.score(
            model, first.tokenizer, dataset.test_texts, dataset.test_labels,
            class_names=first.class_names, batch_size=config.batch_size,
            maxlen=maxlen,
        )

    metrics = score_on_test(model).report(run_dir, extra={
        "model": config.model,
        "members": [
            _member_metrics(runs_of_member, member, score_on_test)
            for runs_of_member, member in zip(results, members, strict=True)
        ],
        **{key: round(sum(r.metrics.get(key, 0) for r in runs), 2)
           for key in ("epochs_run", "train_seconds", "refit_epochs",
                       "refit_seconds")},
    })
    rundir.save_model(run_dir, model, first.tokenizer)
    resolved = dataclasses.replace(config, maxlen=maxlen)
    if config.export:
        exporter.export(
            model, first.tokenizer, first.class_names,
            run_dir / "saved_model", maxlen=maxlen, overwrite=True,
            metadata={
                "model_name": config.model,
                "members": [member[0].config.model for member in results],
                "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1")},
                "data": config.data,
            },
        )
    rundir.write_record(run_dir, {
        **rundir.read_record(run_dir), "config": resolved.to_dict(),
        "vocab_size": first.tokenizer.vocab_size,
        "class_names": first.class_names,
    })
    rundir.finish_run(
        run_dir, average_seconds=round(time.perf_counter() - start, 2))
    return training.RunResult(run_dir, metrics, model, first.tokenizer,
                              first.class_names, resolved)


def _average_of(models, name, average_name=None):
    """One model of token ids -> the float32 average of `models`' class
    probabilities."""
    import keras

    inputs = keras.Input((None,), dtype="int32", name="ids")
    average = keras.layers.Average(name=average_name, dtype="float32")
    return keras.Model(inputs, average([m(inputs) for m in models]),
                       name=name)


def _member_model(index, runs):
    """Member `index` as one model: its run's, or the average of its
    repeats' (named ``member_<index>_<model>``)."""
    import keras

    name = f"member_{index}_{runs[0].config.model}"
    if len(runs) == 1:
        return keras.Model(runs[0].model.input, runs[0].model.output,
                           name=name)
    return _average_of(
        [keras.Model(r.model.input, r.model.output, name=f"{name}_r{k}")
         for k, r in enumerate(runs)], name)


def _member_metrics(runs, model, score_on_test):
    """``metrics.json`` entry of one member: its model, run(s) and test
    accuracy and macro-F1 (of the repeats' average with repeats, scored
    by `score_on_test`)."""
    from sklearn.metrics import accuracy_score, f1_score

    def entry(run):
        return {"model": run.config.model,
                "run": f"members/{run.run_dir.name}",
                "accuracy": run.metrics["accuracy"],
                "macro_f1": run.metrics["macro_f1"]}

    if len(runs) == 1:
        return entry(runs[0])
    scores = score_on_test(model)
    y_pred = scores.y_prob.argmax(axis=1)
    return {"model": runs[0].config.model,
            "accuracy": float(accuracy_score(scores.y_true, y_pred)),
            "macro_f1": float(f1_score(scores.y_true, y_pred,
                                       average="macro")),
            "repeats": [{**entry(r), "seed": r.config.seed} for r in runs]}
