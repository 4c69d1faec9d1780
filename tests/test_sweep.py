"""Sweeps: the blind protocol as Ray Tune trials on local Ray, the driver caching the best setting's test run.

Ray starts once for this module (``ray_session``) and is shut down at its end, with a check that none of
its processes is left running.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from explorer import runs, sweep
from explorer.cli import main
from explorer.errors import ModelFitError, ParameterError
from explorer.sweep import runner as sweep_runner
from explorer.training import interactions_of


def _processes_of(session_dir: str) -> str:
    done = subprocess.run(["pgrep", "-af", session_dir], capture_output=True, text=True)
    return "\n".join(line for line in done.stdout.splitlines() if "pgrep" not in line)


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray for the module's sweeps (2 CPUs); shut down at the end, leaving no raylet or gcs_server."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    session_dir = ray._private.worker._global_node.get_session_dir_path()
    try:
        yield ray.get_runtime_context().get_node_id()
    finally:
        ray.shutdown()
    assert not _processes_of(session_dir), "Ray left processes running"


def test_two_by_two_sweep_runs_under_local_ray_and_caches_the_best_test_run(demo_dataset, ray_session):
    ray_node = ray_session
    request = sweep.plan(demo_dataset, "lightgcn", [2010], ["lr=0.01,0.05", "epochs=3,6"], seeds=[1])
    seen = []
    result = sweep.run_sweep(demo_dataset, request, progress=lambda done, total: seen.append((done, total)))

    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    part = result.years[2010]
    assert part.validated_on == 2009
    assert sorted((t.params["lr"], t.params["epochs"]) for t in part.trials) == [
        (0.01, 3),
        (0.01, 6),
        (0.05, 3),
        (0.05, 6),
    ]
    assert all(t.status == "ok" and t.seed == 1 and 0 < t.value <= 1 for t in part.trials)
    best = max(part.trials, key=lambda t: t.value)
    assert part.best == {"params": best.params, "value": best.value}
    # the driver trained the best setting on the real split (train < 2010, test 2010) into the run cache
    cached = runs.load(part.test["key"])
    assert cached.year == 2010 and cached.model == "lightgcn"
    assert cached.params["lr"] == best.params["lr"] and cached.params["epochs"] == best.params["epochs"]
    assert cached.params["seed"] == 1
    assert part.test["mrr"] == cached.metrics["mrr"]
    document = json.loads(json.dumps(result.as_json()))
    assert document["engine"] == "ray" and document["metric"] == "mrr" and document["engine_version"]
    assert set(document["years"]["2010"]) == {"validated_on", "trials", "best", "test"}
    assert set(document["years"]["2010"]["trials"][0]) == {"params", "seed", "value", "status", "error", "node"}
    assert {trial.node for trial in part.trials} == {ray_node}  # where each trial ran: local Ray's one node


def test_cli_sweep_json_is_exactly_one_object_and_its_test_run_is_listed(demo_dir, ray_session, capsys):
    ray_node = ray_session
    code = main(["-q", "sweep", "--model", "popularity", "--years", "2010", "--data-dir", str(demo_dir), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)  # Tune's own tables went to stderr
    assert document["model"] == "popularity" and document["engine"] == "ray"
    (trial,) = document["years"]["2010"]["trials"]
    assert trial == {"params": {}, "seed": None, "value": trial["value"], "status": "ok", "error": "", "node": ray_node}
    assert document["years"]["2010"]["test"]["key"] in set(runs.table()["key"])


def test_a_failed_trial_is_reported_and_does_not_win(demo_dataset, monkeypatch):
    def diverge(*args, **kwargs):
        raise ModelFitError("lightgcn's loss became nan at epoch 1; lower the learning rate (now 1.0) and train again.")

    monkeypatch.setattr(sweep_runner, "train_and_evaluate", diverge)
    spec = {"year": 2010, "point": {"lr": 1.0}, "seed": 0, "params": {"lr": 1.0}}
    outcome = sweep_runner._trial({"trial": spec}, demo_dataset, "lightgcn", "mrr", 1.0)
    assert outcome["failed"] and "loss became nan" in outcome["error"]

    failed = sweep_runner._trial_of(SimpleNamespace(config={"trial": spec}, metrics=outcome, error=None))
    crashed = sweep_runner._trial_of(
        SimpleNamespace(config={"trial": {**spec, "point": {"lr": 0.5}}}, metrics={}, error=RuntimeError("boom"))
    )
    fine = sweep.Trial(2010, {"lr": 0.01}, 0, value=0.02)
    assert (failed.status, crashed.status, crashed.error) == ("failed", "failed", "RuntimeError: boom")
    assert sweep.best_of([failed, crashed, fine]) == {"params": {"lr": 0.01}, "value": 0.02}
    assert sweep.best_of([failed, crashed]) is None


def test_best_setting_is_chosen_by_the_mean_over_seeds():
    trials = [
        sweep.Trial(2010, {"lr": 0.01}, 0, value=0.10),
        sweep.Trial(2010, {"lr": 0.01}, 1, value=0.02),
        sweep.Trial(2010, {"lr": 0.03}, 0, value=0.07),
        sweep.Trial(2010, {"lr": 0.03}, 1, value=0.07),
    ]
    assert sweep.best_of(trials) == {"params": {"lr": 0.03}, "value": pytest.approx(0.07)}


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["lr=0.01,banana"], "lr must be a number, got 'banana'."),
        (["lr=5"], "lr must be between 1e-05 and 1.0, got '5'."),
        (["learning_rate=0.1"], "lightgcn has no hyperparameter learning_rate"),
        (["lr"], "A grid item must look like NAME=V1,V2"),
        (["epochs=1.5"], "epochs must be a number, got '1.5'."),
    ],
)
def test_invalid_grid_gives_one_sentence(demo_dataset, grid, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(".", r"\.")):
        sweep.plan(demo_dataset, "lightgcn", [2010], grid)


def test_invalid_sweep_requests_give_one_sentence(demo_dataset):
    with pytest.raises(ParameterError, match="no metric 'auc'"):
        sweep.plan(demo_dataset, "lightgcn", [2010], metric="auc")
    with pytest.raises(ParameterError, match="has no seed"):
        sweep.plan(demo_dataset, "popularity", [2010], seeds=[0, 1])
    with pytest.raises(ParameterError, match="validation year"):
        sweep.plan(demo_dataset, "lightgcn", [sorted(interactions_of(demo_dataset)["year"].unique())[1]])


def test_cli_invalid_grid_value_exits_2_with_one_sentence_before_ray_starts(demo_dir, capsys):
    code = main(
        ["-q", "sweep", "--model", "lightgcn", "--years", "2010", "--grid", "lr=0.01,7", "--data-dir", str(demo_dir)]
    )
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.strip() == "error: lr must be between 1e-05 and 1.0, got '7'."


def test_importing_the_cli_and_sweep_does_not_import_ray():
    script = "import sys, explorer.cli, explorer.sweep; print('ray' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
