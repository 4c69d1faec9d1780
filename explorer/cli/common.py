"""What every command shares: the model/year/data flags, per-model hyperparameters (``--param``), progress, runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from explorer import comparison, runs
from explorer.data import Dataset, load_dataset
from explorer.errors import ParameterError
from explorer.models import model_names, registry, seed_names
from explorer.protocol import DEFAULT_YEARS, Split
from explorer.training import Run, splits_of

PARAM_HELP = "a model's hyperparameter, e.g. ease.reg=300 (repeatable; --param list: all of them)"


def param_listing() -> str:
    """Every model's hyperparameters: ``MODEL.NAME  default  [low, high]  help``, one per line."""
    lines = []
    for cls in registry().values():
        if not cls.PARAMS:
            lines.append(f"{cls.name}: no hyperparameters")
        for name, spec in cls.PARAMS.items():
            label = f"{cls.name}.{name}"
            lines.append(f"{label:<32} {spec.default!s:>8}  [{spec.low:g}, {spec.high:g}]  {spec.help}")
    return "\n".join(lines)


class ParamAction(argparse.Action):
    """``--param MODEL.NAME=VALUE`` (repeatable) collected as text; ``--param list`` prints them all and exits."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ARG002 - argparse's signature
        if values == "list":
            print(param_listing())
            parser.exit()
        given = list(getattr(namespace, self.dest, None) or [])
        setattr(namespace, self.dest, [*given, values])


def add_common(parser: argparse.ArgumentParser, *, many_models: bool, flag: str = "--model") -> None:
    """``--model(s)``, ``--years``, ``--data-dir``, ``--device``, ``--no-cache`` and the hyperparameter flags."""
    parser.add_argument(
        flag,
        dest="model",
        nargs="+" if many_models else None,
        required=True,
        choices=model_names(),
        metavar="M",
        help=f"model{'s' if many_models else ''}: {', '.join(model_names())}",
    )
    parser.add_argument(
        "--years",
        nargs="+",
        type=int,
        default=list(DEFAULT_YEARS),
        metavar="Y",
        help="test years (default: 2008 2009 2010)",
    )
    parser.add_argument(
        "--data-dir", metavar="DIR", help="folder of the data set (default: $LASTFM_DATA_DIR, data/, download)"
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], help="device of torch models (default: cuda if there is one)"
    )
    parser.add_argument("--no-cache", action="store_true", help="retrain even when a cached run exists")
    parser.add_argument("--param", action=ParamAction, dest="params", metavar="M.NAME=V", help=PARAM_HELP)


def add_seeds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        metavar="S",
        help="one run per seed: the mean, the seed SD and the user-bootstrap CI",
    )


def parse_params(given: Sequence[str] | None, models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--param`` texts → model → validated overrides; ParameterError (one sentence) for anything wrong.

    Checked before any data is read: the model exists and is one of ``models``, it has that hyperparameter,
    the value is a number within the parameter's bounds, and no ``MODEL.NAME`` is given twice.
    """
    chosen: dict[str, dict[str, Any]] = {model: {} for model in models}
    for text in given or []:
        target, equals, value = text.partition("=")
        model, dot, name = target.partition(".")
        if not (equals and dot and model and name and value):
            raise ParameterError(f"--param {text!r} is not MODEL.NAME=VALUE; write e.g. --param ease.reg=300.")
        if model not in registry():
            raise ParameterError(f"--param {text}: there is no model {model!r}; models: {', '.join(model_names())}.")
        if model not in chosen:
            raise ParameterError(f"--param {text} names {model}, which is not among the models given here.")
        params = registry()[model].PARAMS
        if name not in params:
            known = ", ".join(params) or "none"
            raise ParameterError(f"--param {text}: {model} has no hyperparameter {name!r}; it has: {known}.")
        if name in chosen[model]:
            raise ParameterError(f"--param gives {model}.{name} twice; give each hyperparameter once.")
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"--param {text}: {name} must be a number, got {value!r}.") from None
        try:
            chosen[model][name] = params[name].check(name, number)
        except ParameterError as error:
            raise ParameterError(f"--param {text}: {str(error).rstrip('.')}.") from None
    return chosen


class Bar:
    """Progress of one piece of long work (a model-year's epochs, a map's steps, a sweep's trials).

    On a terminal it is a tqdm bar. Anywhere else (a log file, CI, ``nohup``) a bar's carriage returns
    would flood the file, so it writes plain lines instead: one when the work starts and one every
    tenth of it (``lightgcn 2010: epoch 20/100 loss 0.4123``). Disabled (``-q``) it writes nothing.
    """

    LINES = 10  # plain lines per piece of work, besides the first

    def __init__(self, label: str, enabled: bool, unit: str = "epoch", stream: TextIO | None = None) -> None:
        self.label, self.enabled, self.unit, self.bar = label, enabled, unit, None
        self._stream = stream  # None: sys.stderr when written to (a Bar is pickled with a sweep's callback)
        self.next_line = 0

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __call__(self, step: int, total: int, **metrics: float) -> None:
        if not self.enabled:
            return
        if not _is_terminal(self.stream):
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
    if any(text.partition("=")[0].endswith("seed") for text in getattr(args, "params", None) or []):
        raise ParameterError("Give either --param MODEL.seed=… or --seeds, not both.")
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
    given = parse_params(getattr(args, "params", None), models)  # every mistake fails before data is read
    seed_plan = {model: seed_list(args, model) for model in models}
    dataset, splits = loaded or load(args)
    results: dict[str, list[Run]] = {}
    for model in models:
        params, seeds = given[model], seed_plan[model]
        for split in splits:
            for seed in seeds:
                label = f"{model} {split.year}" + (f" seed {seed}" if seed is not None else "")
                chosen = params if seed is None else {**params, **dict.fromkeys(seed_names(model), seed)}
                bar = Bar(label, not args.quiet)
                try:
                    run = runs.run_for(
                        dataset, split, model, chosen, device=args.device, progress=bar, use_cache=not args.no_cache
                    )
                finally:
                    bar.close()
                results.setdefault(model, []).append(run)
    return results
