"""Provenance in a run's identity, the run card, exact reproduction, and the `runs` command (issue 13)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from explorer import provenance, reproduction, runs
from explorer.errors import ParameterError
from explorer.models import model_class, model_names
from explorer.training import splits_of

ROOT = Path(__file__).resolve().parents[1]
# Cheap settings: reproduction is exact or not whatever the number of epochs.
CHEAP = {
    "cmf": {"k": 8},
    "cmf-tags": {"k": 8},
    "als": {"factors": 8, "iterations": 3},
    "bpr": {"factors": 8, "iterations": 20},
    "lightgcn": {"epochs": 3, "embedding_dim": 8},
    "lightgcn-social": {"epochs": 3, "embedding_dim": 8},
    "lightgcn-tags": {"epochs": 3, "embedding_dim": 8},
    "lightgcn-ease": {"gcn_epochs": 3, "gcn_embedding_dim": 8},
}


def explorer(*args: str, cache: Path, cwd: Path = ROOT, pythonpath: Path | None = None):
    env = {**os.environ, "EXPLORER_CACHE_DIR": str(cache)}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def every_model(tmp_path_factory, demo_dataset) -> tuple[Path, dict[str, str]]:
    """One cheap run of every registered model for 2010 on the demo data: (cache, model → key)."""
    cache = tmp_path_factory.mktemp("provenance-cache")
    (split,) = splits_of(demo_dataset, [2010])
    keys = {name: runs.run_for(demo_dataset, split, name, CHEAP.get(name), root=cache).key for name in model_names()}
    return cache, keys


def test_the_fingerprint_covers_the_models_module_its_imports_and_the_engine():
    cmf = {provenance.file_label(path) for path in provenance.code_files(model_class("cmf"))}
    assert {"explorer/models/cmf.py", "explorer/models/base.py", "explorer/evaluation.py"} <= cmf
    assert {"explorer/protocol.py", "explorer/training.py", "explorer/data.py", "explorer/lookups.py"} <= cmf
    assert "explorer/models/lightgcn.py" not in cmf and "explorer/runs.py" not in cmf
    ensemble = {provenance.file_label(p) for p in provenance.code_files(model_class("lightgcn-ease"))}
    assert {"explorer/models/lightgcn_plus.py", "explorer/models/lightgcn.py", "explorer/models/ease.py"} <= ensemble
    assert provenance.code_fingerprint(model_class("cmf")) != provenance.code_fingerprint(model_class("ease"))
    # the stored explanations' code counts for every run, but not the other models it imports to explain them
    popularity = {provenance.file_label(p) for p in provenance.code_files(model_class("popularity"))}
    assert "explorer/explainers.py" in popularity and "explorer/models/lightgcn_plus.py" not in popularity


PLUGIN = """
import numpy as np
from explorer.models.base import Recommender
from helper import SCALE


class Constant(Recommender):
    name = "constant"
    personal = False
    STATE = ()

    def _fit(self, train, progress):
        self.user_ids_ = np.empty(0, dtype=np.int64)
        self.popularity_ = self.popularity_ * SCALE
"""


def _plugin_class(folder: Path, scale: str) -> type:
    folder.mkdir()
    (folder / "constant.py").write_text(PLUGIN)
    (folder / "helper.py").write_text(f"SCALE = {scale}\n")
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"plugin_{folder.name}", folder / "constant.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules.pop("helper", None)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("helper", None)
    return module.Constant


def test_a_plugin_outside_the_package_is_keyed_by_its_own_files(tmp_path):
    first = _plugin_class(tmp_path / "one", "1.0")
    files = [provenance.file_label(p) for p in provenance.code_files(first)]
    assert {"constant.py", "helper.py", "explorer/models/base.py", "explorer/evaluation.py"} <= set(files)
    same = _plugin_class(tmp_path / "two", "1.0")  # the same source in another folder: the same code
    assert provenance.code_fingerprint(same) == provenance.code_fingerprint(first)
    edited = _plugin_class(tmp_path / "three", "2.0")  # only its helper file differs
    assert provenance.code_fingerprint(edited) != provenance.code_fingerprint(first)
    assert provenance.device_kind(first, None) == "cpu"


def test_the_device_is_resolved_before_training_and_is_part_of_the_key():
    assert provenance.device_kind(model_class("ease"), "cuda") == "cpu"  # no GPU code: it trains on the CPU
    assert provenance.device_kind(model_class("lightgcn"), "cpu") == "cpu"
    with pytest.raises(ParameterError, match="cpu or cuda"):
        provenance.device_kind(model_class("lightgcn"), "tpu")
    fields = {"model": "lightgcn", "params": {}, "year": 2010, "data_fingerprint": "d", "code": "c"}
    cpu = provenance.identity_key(provenance.identity(**fields, device="cpu", versions={}))
    assert cpu != provenance.identity_key(provenance.identity(**fields, device="cuda", versions={}))
    assert cpu != provenance.identity_key(provenance.identity(**fields, device="cpu", versions={"torch": "9"}))
    assert cpu != provenance.identity_key(provenance.identity(**{**fields, "code": "e"}, device="cpu", versions={}))


def test_a_run_made_by_other_code_is_not_served_and_is_listed_as_stale(tmp_path, demo_dir):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "explorer", copy / "explorer", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    train = ("-q", "train", "--model", "popularity", "--years", "2010", "--data-dir", str(demo_dir), "--no-maps")
    first = explorer(*train, cache=cache, cwd=copy, pythonpath=copy)
    assert first.returncode == 0, first.stderr
    assert "trained in" in first.stdout
    assert "cached" in explorer(*train, cache=cache, cwd=copy, pythonpath=copy).stdout
    model_file = copy / "explorer" / "models" / "popularity.py"
    model_file.write_text(model_file.read_text() + "\n# an edit that could change its numbers\n")
    again = explorer(*train, cache=cache, cwd=copy, pythonpath=copy)
    assert "trained in" in again.stdout, again.stdout  # retrained, not served from the old entry
    listed = json.loads(explorer("runs", "list", "--json", cache=cache, cwd=copy, pythonpath=copy).stdout)
    assert sorted(row["stale"] for row in listed) == [False, True]
    text = explorer("runs", "list", cache=cache, cwd=copy, pythonpath=copy).stdout
    assert "stale (made by other code)" in text and "runs clear --stale" in text
    cleared = explorer("runs", "clear", "--stale", cache=cache, cwd=copy, pythonpath=copy)
    assert "deleted 1 stale" in cleared.stdout
    (left,) = json.loads(explorer("runs", "list", "--json", cache=cache, cwd=copy, pythonpath=copy).stdout)
    assert left["key"] == next(row["key"] for row in listed if not row["stale"])


@pytest.mark.parametrize("model", model_names())
def test_every_model_reproduces_exactly(model, every_model):
    cache, keys = every_model
    result = reproduction.reproduce(keys[model], cache, extra_seeds=1)
    assert result["identical"], result["verdict"]
    assert result["max_abs_diff"] == 0.0 and result["metrics"]["original"] == result["metrics"]["reproduced"]
    assert result["verdict"].startswith("reproduced exactly")


def test_runs_list_filters_by_model_and_prints_json(every_model):
    """Regression: `runs list --model ease` once listed every model."""
    cache, keys = every_model
    text = explorer("runs", "list", "--model", "ease", cache=cache)
    assert text.returncode == 0, text.stderr
    body = text.stdout.splitlines()[1:]
    assert len(body) == 1 and body[0].startswith("ease ") and keys["ease"] in body[0]
    listed = json.loads(explorer("runs", "list", "--json", cache=cache).stdout)
    assert [row["model"] for row in listed] == model_names()  # sorted in registry order
    for row in listed:
        assert {"key", "model", "year", "params", "seed", "device", "stale"} <= set(row)
        assert isinstance(row["stale"], bool) and not row["stale"] and row["device"] == "cpu"
    assert next(r for r in listed if r["model"] == "cmf")["seed"] == model_class("cmf").PARAMS["seed"].default
    assert next(r for r in listed if r["model"] == "ease")["seed"] is None


def test_the_run_card_says_how_to_re_create_the_run(every_model, demo_dataset):
    cache, keys = every_model
    done = explorer("runs", "show", keys["cmf"], "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    for field in ("model", "params", "year", "seed", "device", "data", "code", "versions", "python", "git"):
        assert field in card
    assert card["params"]["k"] == 8 and card["year"] == 2010 and card["device"] == "cpu"
    assert card["data"]["fingerprint"] == demo_dataset.fingerprint and card["data"]["synthetic"]
    assert "explorer/models/cmf.py" in card["code"]["files"] and len(card["code"]["fingerprint"]) == 24
    assert set(provenance.KEY_PACKAGES) == set(card["versions"])
    assert card["created"] and card["fit_seconds"] > 0
    assert card["command"].startswith("python -m explorer train --model cmf --years 2010")
    assert "--k 8" in card["command"] or "cmf.k=8" in card["command"]
    text = explorer("runs", "show", keys["cmf"], cache=cache).stdout
    assert "re-create" in text and "explorer/models/cmf.py" in text
    missing = explorer("runs", "show", "0123abcd", cache=cache)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "no cached run" in missing.stderr


def test_the_commands_from_the_card_re_create_the_same_key(every_model, tmp_path):
    cache, keys = every_model
    card = reproduction.card(keys["ease"], cache)
    words = card["command"].split()[3:]  # after "python -m explorer"
    done = explorer("-q", *words, cache=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [row["key"] for row in json.loads(explorer("runs", "list", "--json", cache=tmp_path).stdout)] == [
        keys["ease"]
    ]


def test_reproduce_json_and_a_changed_data_set(tmp_path, demo_dir):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    cache = tmp_path / "cache"
    explorer("-q", "train", "--model", "popularity", "--years", "2010", "--data-dir", str(data), cache=cache)
    (key,) = [row["key"] for row in json.loads(explorer("runs", "list", "--json", cache=cache).stdout)]
    done = explorer("-q", "runs", "reproduce", key, "--json", cache=cache)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"key", "identical", "metrics", "max_abs_diff"} <= set(result) and result["identical"] is True
    assert set(result["metrics"]) == {"original", "reproduced"} and result["max_abs_diff"] == 0.0
    lines = (data / "user_artists.dat").read_text().splitlines()
    (data / "user_artists.dat").write_text("\n".join(lines[:-1]) + "\n")
    changed = explorer("-q", "runs", "reproduce", key, cache=cache)
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    assert len([line for line in changed.stderr.splitlines() if line.startswith("error:")]) == 1
    assert "not the data" in changed.stderr


def test_a_reproduction_that_differs_reports_the_seed_spread(every_model, monkeypatch):
    cache, keys = every_model
    monkeypatch.setattr(reproduction, "same_ranks", lambda a, b: False)
    result = reproduction.reproduce(keys["cmf"], cache, extra_seeds=2)
    assert not result["identical"] and len(result["extra_seeds"]) == 2
    assert set(result["seed_sd"]) == set(result["metrics"]["original"])
    assert "seed SD" in result["verdict"]
    seedless = reproduction.reproduce(keys["ease"], cache)
    assert seedless["seed_sd"] is None and "no seed" in seedless["verdict"]
