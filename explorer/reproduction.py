"""A run's card (everything needed to re-create it) and its reproduction: retrain in a scratch cache, compare.

* :func:`card` reads a cache entry's identity and summary (never its ranks): model, hyperparameters, test
  year, seed, device, data, code fingerprint and the files it covers, library and Python versions, the git
  commit (and whether the checkout had uncommitted changes), created time, fit seconds, and the command
  that re-creates the run.
* :func:`reproduce` retrains the run with the card's settings in a temporary cache (deleted after) and
  compares every test row's rank and norm_rank. Identical ranks mean "reproduced exactly". Otherwise it
  reports each metric's difference next to the seed spread (for a model with a seed, estimated from a
  couple of extra seeds trained in the scratch cache) and says what differs from the card (code,
  versions, device), which explains a difference.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explorer import provenance, run_index, runs
from explorer.data import Dataset, load_dataset
from explorer.errors import DataError, ParameterError
from explorer.evaluation import parse_metric
from explorer.lookups import metric_names
from explorer.models import ProgressCallback, model_class, seed_names, seed_of
from explorer.training import Run, splits_of

PLUGINS_ENV = "EXPLORER_PLUGINS"
EXTRA_SEEDS = 2  # extra seeds trained to estimate the seed spread when a reproduction is not identical


def _train_parser() -> Any:
    from explorer.cli import build_parser  # the command must match the command line as it is now

    commands = next(a for a in build_parser()._actions if getattr(a, "choices", None) and "train" in a.choices)
    return commands.choices["train"]


def _value(value: Any) -> str:
    return str(int(value)) if isinstance(value, bool | int) else repr(float(value))


def command_for(model: str, params: dict[str, Any], year: int, data_path: str, device: str) -> str:
    """The ``python -m explorer train …`` command that re-creates a run (every hyperparameter spelled out)."""
    options = _train_parser()._option_string_actions
    words = ["python", "-m", "explorer", "train", "--model", model, "--years", str(year)]
    words += ["--data-dir", data_path, "--device", device, "--no-maps"]
    for name, value in params.items():
        if "--param" in options:  # per-model flags: --param cmf.k=16
            words += ["--param", f"{model}.{name}={_value(value)}"]
        else:
            words += [f"--{name.replace('_', '-')}", _value(value)]
    prefix = ""
    try:
        source = provenance.source_file(model_class(model))
        if not source.is_relative_to(provenance.PACKAGE_DIR):  # a plugin: load its file as the run did
            prefix = f"{PLUGINS_ENV}={shlex.quote(str(source))} "
    except ParameterError:
        pass
    return prefix + shlex.join(words)


def card(key: str, root: Path | None = None) -> dict[str, Any]:
    """Everything needed to re-create the run ``key`` (read from its JSON only).

    Raises:
        CacheError: there is no such entry (one sentence).
    """
    config, details = runs.entry(key, root)
    versions = dict(config.get("versions") or details.get("versions") or {})
    device = config.get("device") or details.get("device", "cpu")
    because = runs.staleness(config)
    code = config.get("code") or {}
    return {
        "key": key,
        "model": config["model"],
        "params": config["params"],
        "year": config["year"],
        "seed": seed_of(config["params"]),
        "device": device,
        "data": dict(config["data"]),
        "code": {"fingerprint": code.get("fingerprint"), "files": code.get("files", [])},
        "versions": provenance.key_versions(versions),
        "python": versions.get("python"),
        "git": details.get("git"),
        "created": details.get("created"),
        "fit_seconds": details.get("fit_seconds"),
        "eval_seconds": details.get("eval_seconds"),
        "format": config.get("format"),
        "status": runs.status(config),
        "stale": because is not None,
        "stale_because": because or "",
        "metrics": {"recall@10": details["metrics"]["recall"]["10"], "mrr": details["metrics"]["mrr"]},
        "notes": details.get("notes", []),
        "command": command_for(config["model"], config["params"], config["year"], config["data"]["path"], device),
        "reproduce": f"python -m explorer runs reproduce {key}",
    }


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """``{"recall@10": v, "mrr": v, …}`` of the metrics a run's CIs cover, from its nested metrics."""
    flat = {}
    for name in metric_names():
        kind, k = parse_metric(name)
        flat[name] = float(metrics[kind] if k is None else metrics[kind][str(k)])
    return flat


def same_ranks(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """True when both tables rank the same test rows identically (ranks and norm_ranks, NaN equal to NaN)."""
    if len(a) != len(b) or not all(np.array_equal(a[c].to_numpy(), b[c].to_numpy()) for c in ("user", "item")):
        return False
    return all(
        np.array_equal(a[c].to_numpy(dtype=np.float64), b[c].to_numpy(dtype=np.float64), equal_nan=True)
        for c in ("ranks", "norm_ranks")
    )


def _dataset_for(run: Run, key: str, data_dir: str | None) -> Dataset:
    path = data_dir or (run.data["path"] if Path(run.data["path"]).is_dir() else None)
    dataset = load_dataset(path)
    if dataset.fingerprint != run.data["fingerprint"]:
        raise DataError(
            f"The data at {dataset.path} is not the data run {key} was trained on (fingerprint "
            f"{dataset.fingerprint}, the run's {run.data['fingerprint']}); point --data-dir at that data."
        )
    return dataset


def differences(run: Run, device: str) -> list[str]:
    """What differs between the run's card and this process (code, key library versions, device)."""
    found = []
    if run.code.get("fingerprint") != provenance.code_fingerprint(model_class(run.model)):
        found.append("the code differs from the code that made the run")
    found += [f"{name} {then} then, {now} now" for name, then, now in run_index.version_changes(run.versions)]
    if device != run.device:
        found.append(f"trained on {run.device} then, reproduced on {device} now")
    return found


def reproduce(
    key: str,
    root: Path | None = None,
    *,
    data_dir: str | None = None,
    extra_seeds: int = EXTRA_SEEDS,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Retrain the run ``key`` with its card's settings in a scratch cache and compare.

    Returns:
        ``{"key", "identical", "metrics": {"original": {m: v}, "reproduced": {m: v}}, "max_abs_diff",
        "differences", "device", "seed_sd", "extra_seeds", "verdict"}``; ``seed_sd`` (per metric, the SD
        over the reproduction and the extra seeds) only when the ranks differ and the model has a seed.

    Raises:
        CacheError: there is no such run, or it is corrupted.
        DataError: the data found now is not the data the run was trained on.
        ParameterError: the run's model is not registered here.
    """
    run = runs.load(key, root, verify=True)
    model_class(run.model)  # one sentence when the model (a plugin?) is not registered
    dataset = _dataset_for(run, key, data_dir)
    (split,) = splits_of(dataset, [run.year])
    device = run.device if run.device == provenance.device_kind(model_class(run.model), None) else "cpu"
    with tempfile.TemporaryDirectory(prefix="explorer-reproduce-") as scratch:
        again = runs.run_for(
            dataset, split, run.model, run.params, device=device, root=Path(scratch), progress=progress
        )
        again = runs.load(again.key, Path(scratch), verify=True)  # compare what was stored, as the original is
        identical = same_ranks(run.ranks, again.ranks)
        original, reproduced = flat_metrics(run.metrics), flat_metrics(again.metrics)
        result: dict[str, Any] = {
            "key": key,
            "identical": identical,
            "metrics": {"original": original, "reproduced": reproduced},
            "max_abs_diff": max(abs(original[m] - reproduced[m]) for m in original),
            "differences": differences(run, device),
            "device": device,
            "seed_sd": None,
            "extra_seeds": [],
        }
        if not identical and run.seed is not None:
            seeds = [int(run.seed) + i for i in range(1, extra_seeds + 1)]
            values = [reproduced]
            for seed in seeds:
                params = {**run.params, **dict.fromkeys(seed_names(run.model), seed)}
                other = runs.run_for(dataset, split, run.model, params, device=device, root=Path(scratch))
                values.append(flat_metrics(other.metrics))
            result["extra_seeds"] = seeds
            result["seed_sd"] = {m: float(np.std([v[m] for v in values], ddof=1)) for m in original}
    result["verdict"] = verdict(result)
    return result


def verdict(result: dict[str, Any]) -> str:
    """One paragraph: reproduced exactly, or how far off next to the seed spread and why it may differ."""
    if result["identical"]:
        text = "reproduced exactly: every test row's rank and norm_rank is identical"
        return text + (f" (although {'; '.join(result['differences'])})" if result["differences"] else "")
    worst = max(result["metrics"]["original"], key=lambda m: abs(result["metrics"]["original"][m] - _re(result, m)))
    text = f"not identical: the largest metric difference is {result['max_abs_diff']:.6f} ({worst})"
    if result["seed_sd"] is not None:
        seeds = len(result["extra_seeds"]) + 1
        text += f", next to a seed SD of {result['seed_sd'][worst]:.6f} for {worst} over {seeds} seeds"
    else:
        text += "; the model has no seed, so any difference comes from the code, the libraries or the device"
    if result["differences"]:
        text += f". What differs from the run's card: {'; '.join(result['differences'])}"
    return text + "."


def _re(result: dict[str, Any], metric: str) -> float:
    return result["metrics"]["reproduced"][metric]
