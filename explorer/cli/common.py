"""What every command shares: the model/year/data flags, per-model hyperparameters, progress, obtaining runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from explorer import comparison, runs
from explorer.data import Dataset, load_dataset
from explorer.errors import ParameterError
from explorer.models import model_names, registry
from explorer.protocol import DEFAULT_YEARS, Split
from explorer.training import Run, splits_of


def param_flags() -> dict[str, tuple[type, str]]:
    """Every hyperparameter of every model → (type, help), for the ``--name`` flags."""
    flags: dict[str, tuple[type, str]] = {}
    for cls in registry().values():
        for name, spec in cls.PARAMS.items():
            prior = flags.get(name)
            models = f"{prior[1].split(' [')[0]} " if prior else ""
            owners = (prior[1].split("[")[1].rstrip("]") + ", " if prior else "") + cls.name
            flags[name] = (spec.kind, f"{models or spec.help} [{owners}]")
    return flags


def add_common(parser: argparse.ArgumentParser, *, many_models: bool, flag: str = "--model") -> None:
    """``--model(s)``, ``--years``, ``--data-dir``, ``--device``, ``--no-cache`` and the hyperparameter flags."""
    parser.add_argument(
        flag,
        dest="model",
        nargs="+" if many_models else None,
        required=True,
        choices=model_names(),
        metavar="MODEL",
        help=f"model{'s' if many_models else ''} to use: {', '.join(model_names())}",
    )
    parser.add_argument(
        "--years",
        nargs="+",
        type=int,
        default=list(DEFAULT_YEARS),
        metavar="YEAR",
        help="test years (default: 2008 2009 2010)",
    )
    parser.add_argument("--data-dir", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)")
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="device for torch models (default: cuda if available)"
    )
    parser.add_argument("--no-cache", action="store_true", help="retrain even when a cached run exists")
    group = parser.add_argument_group("hyperparameters (each applies to the models that have it)")
    for name, (kind, text) in param_flags().items():
        group.add_argument(f"--{name.replace('_', '-')}", dest=f"param_{name}", type=kind, help=text)


def add_seeds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="SEED",
        help="train (or read) one run per seed and report the mean, the seed SD and the user-bootstrap CI",
    )


def params_for(model: str, args: argparse.Namespace, models: Sequence[str]) -> dict[str, Any]:
    """The hyperparameter flags given for ``model`` (a flag no model of ``models`` has is an error)."""
    given = {
        key[len("param_") :]: value
        for key, value in vars(args).items()
        if key.startswith("param_") and value is not None
    }
    for name in given:
        if not any(name in registry()[m].PARAMS for m in models):
            raise ParameterError(f"--{name.replace('_', '-')} is not a hyperparameter of {', '.join(models)}.")
    return {name: value for name, value in given.items() if name in registry()[model].PARAMS}


class Bar:
    """Progress of one piece of long work (a model-year's epochs, a map's steps, a sweep's trials).

    On a terminal it is a tqdm bar. Anywhere else (a log file, CI, ``nohup``) a bar's carriage returns
    would flood the file, so it writes plain lines instead: one when the work starts and one every
    tenth of it (``lightgcn 2010: epoch 20/100 loss 0.4123``). Disabled (``-q``) it writes nothing.
    """

    LINES = 10  # plain lines per piece of work, besides the first

    def __init__(self, label: str, enabled: bool, unit: str = "epoch", stream: TextIO | None = None) -> None:
        self.label, self.enabled, self.unit, self.bar = label, enabled, unit, None
        self.stream = stream or sys.stderr
        self.plain = not _is_terminal(self.stream)
        self.next_line = 0

    def __call__(self, step: int, total: int, **metrics: float) -> None:
        if not self.enabled:
            return
        if self.plain:
            self._line(step, total, metrics)
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit=self.unit, leave=False, file=self.stream)
        self.bar.update(step - self.bar.n)
        if metrics:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()})

    def _line(self, step: int, total: int, metrics: dict[str, float]) -> None:
        if step < self.next_line and step < total:
            return
        every = max(1, -(-total // self.LINES))  # ceil(total / LINES)
        self.next_line = (step // every + 1) * every
        values = "".join(f" {name} {value:.4f}" for name, value in metrics.items())
        print(f"{self.label}: {self.unit} {step}/{total}{values}", file=self.stream, flush=True)
        if step >= total:
            self.next_line = total + 1  # the end is written once

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def seed_list(args: argparse.Namespace, model: str) -> list[int | None]:
    """The seeds to train ``model`` with: ``--seeds`` where the model has a seed, else one run."""
    seeds = getattr(args, "seeds", None)
    if not seeds:
        return [None]
    if getattr(args, "param_seed", None) is not None:
        raise ParameterError("Give either --seed or --seeds, not both.")
    if len(set(seeds)) != len(seeds):
        raise ParameterError("--seeds lists a seed twice; give each seed once.")
    return list(seeds) if comparison.depends_on_seed(model) else [None]


def load(args: argparse.Namespace) -> tuple[Dataset, list[Split]]:
    dataset = load_dataset(args.data_dir)
    return dataset, splits_of(dataset, args.years)


def obtain(
    args: argparse.Namespace, models: Sequence[str], loaded: tuple[Dataset, list[Split]] | None = None
) -> dict[str, list[Run]]:
    """The runs of ``models`` for ``args.years`` (one per seed where ``--seeds`` is given), year by year."""
    dataset, splits = loaded or load(args)
    results: dict[str, list[Run]] = {}
    for model in models:
        params = params_for(model, args, models)
        seeds = seed_list(args, model)
        for split in splits:
            for seed in seeds:
                label = f"{model} {split.year}" + (f" seed {seed}" if seed is not None else "")
                chosen = params if seed is None else {**params, "seed": seed}
                bar = Bar(label, not args.quiet)
                try:
                    run = runs.run_for(
                        dataset, split, model, chosen, device=args.device, progress=bar, use_cache=not args.no_cache
                    )
                finally:
                    bar.close()
                results.setdefault(model, []).append(run)
    return results
