"""Sweeps: the blind protocol as Ray Tune trials on local Ray, the driver caching the best setting's test run.

Ray starts once for this module (``ray_session``) and is shut down at its end, with a check that none of
its processes is left running.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from explorer import runs, sweep
from explorer.cli import main
from explorer.errors import ModelFitError, ParameterError
from explorer.models import model_class
from explorer.sweep import store as sweep_store
from explorer.sweep import trials as sweep_trials
from explorer.sweep.progress import Phases
from explorer.training import interactions_of


def _processes_of(session_dir: str) -> str:
    done = subprocess.run(["pgrep", "-af", session_dir], capture_output=True, text=True)
    return "\n".join(line for line in done.stdout.splitlines() if "pgrep" not in line)


pytestmark = pytest.mark.usefixtures("ray_module")  # the whole module holds the suite's one-Ray lock


@pytest.fixture(scope="module")
def ray_session(ray_module):  # noqa: ARG001 - the lock first
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

    def progress(done, total, phase, elapsed):
        seen.append((done, total, phase))

    result = sweep.run_sweep(demo_dataset, request, progress=progress)

    assert seen[0] == (0, 4, "starting Ray") and seen[-1] == (4, 4, "done")
    trials = [call for call in seen if call[2] == "trials"]
    assert trials[-1] == (4, 4, "trials") and [c[0] for c in trials] == sorted(c[0] for c in trials)
    assert (0, 1, "training best") in seen
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
    assert part.best == {"params": best.params, "value": best.value, "secondary": best.secondary, "seeds": 1}
    assert all(0 <= t.secondary <= 1 and t.seconds > 0 for t in part.trials)  # Recall@10 breaks MRR ties
    # the driver trained the best setting on the real split (train < 2010, test 2010) into the run cache
    cached = runs.load(part.test["key"])
    assert cached.year == 2010 and cached.model == "lightgcn"
    assert cached.params["lr"] == best.params["lr"] and cached.params["epochs"] == best.params["epochs"]
    assert cached.params["seed"] == 1
    assert part.test["mrr"] == cached.metrics["mrr"]
    document = json.loads(json.dumps(result.as_json()))
    assert document["engine"] == "ray" and document["metric"] == "mrr" and document["engine_version"]
    assert set(document["years"]["2010"]) == {"validated_on", "trials", "best", "test"}
    assert set(document["years"]["2010"]["trials"][0]) == {
        *("params", "seed", "value", "status", "error", "secondary", "seconds", "node")
    }
    assert {trial.node for trial in part.trials} == {ray_node}  # where each trial ran: local Ray's one node
    # the finished sweep is in the history and re-opens as it was
    assert result.id in {row["id"] for row in sweep.history()}
    assert sweep.load(result.id).as_json() == document


def test_cli_sweep_json_is_exactly_one_object_and_its_test_run_is_listed(demo_dir, ray_session, capsys):
    ray_node = ray_session
    code = main(["-q", "sweep", "--model", "popularity", "--years", "2010", "--data-dir", str(demo_dir), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)  # Tune's own tables went to stderr
    assert document["model"] == "popularity" and document["engine"] == "ray"
    (trial,) = document["years"]["2010"]["trials"]
    assert {k: trial[k] for k in ("params", "seed", "status", "error", "node")} == {
        "params": {},
        "seed": None,
        "status": "ok",
        "error": "",
        "node": ray_node,
    }
    assert document["years"]["2010"]["test"]["key"] in set(runs.table()["key"])
    # a model without a seed has no seed column in the trials table (no "None" seeds)
    table = sweep.SweepResult.from_json(document).table()
    assert "seed" not in table.columns and list(table["recall@10"]) == [trial["secondary"]]


def test_a_failed_trial_is_reported_and_does_not_win(demo_dataset, monkeypatch):
    def diverge(*args, **kwargs):
        raise ModelFitError("lightgcn's loss became nan at epoch 1; lower the learning rate (now 1.0) and train again.")

    monkeypatch.setattr(sweep_trials, "fit_trial", diverge)
    group = {"year": 2010, "seed": 0, "points": [{"lr": 1.0}], "params": [{"lr": 1.0}]}
    outcome = sweep_trials.run_trial({"trial": group}, demo_dataset, "lightgcn", "mrr", 1.0)
    assert outcome["failed"] and "loss became nan" in outcome["error"]

    (failed,) = sweep_trials.trials_of(SimpleNamespace(config={"trial": group}, metrics=outcome, error=None))
    (crashed,) = sweep_trials.trials_of(
        SimpleNamespace(config={"trial": {**group, "points": [{"lr": 0.5}]}}, metrics={}, error=RuntimeError("boom"))
    )
    fine = sweep.Trial(2010, {"lr": 0.01}, 0, value=0.02)
    assert (failed.status, crashed.status, crashed.error) == ("failed", "failed", "RuntimeError: boom")
    assert sweep.best_of([failed, crashed, fine])["params"] == {"lr": 0.01}
    assert sweep.best_of([failed, crashed]) is None
    # a setting that fails for one seed is not chosen, however good its other seed
    lucky = [sweep.Trial(2010, {"lr": 0.5}, 1, value=0.9), sweep.Trial(2010, {"lr": 0.5}, 0, status="failed")]
    assert sweep.best_of([*lucky, fine])["params"] == {"lr": 0.01}


def test_best_setting_is_chosen_by_the_mean_over_seeds():
    trials = [
        sweep.Trial(2010, {"lr": 0.01}, 0, value=0.10),
        sweep.Trial(2010, {"lr": 0.01}, 1, value=0.02),
        sweep.Trial(2010, {"lr": 0.03}, 0, value=0.07),
        sweep.Trial(2010, {"lr": 0.03}, 1, value=0.07),
    ]
    best = sweep.best_of(trials)
    assert best["params"] == {"lr": 0.03} and best["value"] == pytest.approx(0.07) and best["seeds"] == 2


def test_ties_go_to_the_secondary_metric_then_to_the_smaller_setting_in_params_order():
    def trial(params, value, secondary):
        return sweep.Trial(2010, params, None, value=value, secondary=secondary)

    # equal MRR (to float noise): the higher Recall@10 wins, wherever it sits in the grid
    tied = [trial({"epochs": 50, "lr": 0.03}, 0.05, 0.10), trial({"epochs": 100, "lr": 0.01}, 0.05 + 1e-15, 0.12)]
    assert sweep.best_of(tied, ["epochs", "lr"])["params"] == {"epochs": 100, "lr": 0.01}
    # equal on both: the first hyperparameter in PARAMS order that differs decides, the smaller wins
    same = [trial({"lr": 0.01, "epochs": 100}, 0.05, 0.1), trial({"lr": 0.03, "epochs": 50}, 0.05, 0.1)]
    assert sweep.best_of(same, ["epochs", "lr"])["params"] == {"lr": 0.03, "epochs": 50}
    assert sweep.best_of(same, ["lr", "epochs"])["params"] == {"lr": 0.01, "epochs": 100}
    # a real difference in the metric is never overruled by the secondary one
    close = [trial({"lr": 0.01}, 0.0500, 0.2), trial({"lr": 0.03}, 0.0501, 0.1)]
    assert sweep.best_of(close, ["lr"])["params"] == {"lr": 0.03}
    assert "Recall@10" in sweep.TIE_BREAK and sweep.secondary_of("mrr") == "recall@10"


def test_lines_try_one_hyperparameter_at_a_time_through_each_years_tuned_values(demo_dataset):
    request = sweep.plan(demo_dataset, "cmf", [2010], ["k=8,16,32", "reg=0.3,3"], seeds=[0, 1], lines=True)
    tuned = model_class("cmf").defaults_for(2010)
    points = request.points_for(2010)
    current = {"k": tuned["k"], "reg": tuned["reg"]}
    assert points[0] == current
    expected = [current, *({**current, "k": k} for k in (8, 16, 32)), *({**current, "reg": r} for r in (0.3, 3.0))]
    assert sorted(map(str, points)) == sorted({str(point) for point in expected})
    assert len(request.trials()) == 2 * len(points)  # every point on every seed
    with pytest.raises(ParameterError, match="--lines needs a grid"):
        sweep.plan(demo_dataset, "cmf", [2010], [], lines=True)


def test_an_ensembles_mix_shares_one_fit_and_gives_exactly_the_numbers_of_fitting_each_point(demo_dataset):
    request = sweep.plan(demo_dataset, "lightgcn-ease", [2010], ["mix=0,0.4,1", "gcn_epochs=2"], seeds=[3])
    (group,) = sweep_trials.group_trials(request.trials(), "lightgcn-ease")  # one fit for the three mixes
    assert [point["mix"] for point in group["points"]] == [0.0, 0.4, 1.0]
    assert all(params["gcn_seed"] == 3 for params in group["params"])  # the seed reaches the member
    shared = sweep_trials.run_trial({"trial": group}, demo_dataset, "lightgcn-ease", "mrr", 1.0)
    for n, params in enumerate(group["params"]):
        alone = sweep_trials.run_trial(
            {"trial": {**group, "points": [group["points"][n]], "params": [params]}},
            demo_dataset,
            "lightgcn-ease",
            "mrr",
            1.0,
        )
        assert (shared[f"value{n}"], shared[f"secondary{n}"]) == (alone["value0"], alone["secondary0"])
    # models without a score-only hyperparameter keep one trial per point
    plain = sweep.plan(demo_dataset, "cmf", [2010], ["k=4,8"], seeds=[0, 1])
    assert len(sweep_trials.group_trials(plain.trials(), "cmf")) == 4


def test_phases_tick_while_ray_starts_then_count_trials_and_old_callbacks_still_work():
    calls = []
    phases = Phases(lambda done, total, phase, elapsed: calls.append((done, total, phase, elapsed)), 3, tick=0.01)
    phases.start("starting Ray")
    deadline = time.monotonic() + 60
    while len(calls) < 3 and time.monotonic() < deadline:  # a hang guard, not a timing assertion
        time.sleep(0.01)
    phases.first_trial_started()
    phases.trials_done(2)
    phases.stop()
    starting = [call for call in calls if call[2] == "starting Ray"]
    assert len(starting) >= 3 and all(call[:2] == (0, 3) for call in starting)
    assert [e for *_, e in starting] == sorted(e for *_, e in starting)  # elapsed time goes up
    assert calls[-1][:3] == (2, 3, "trials")
    old = []
    legacy = Phases(lambda done, total: old.append((done, total)), 3)
    legacy.start("starting Ray")
    legacy.trials_done(3)
    legacy.stop()
    assert old == [(0, 3), (3, 3)]


def test_stored_sweeps_are_listed_newest_first_and_reopen(tmp_path):
    older = sweep.SweepResult("cmf", "mrr", "2.60.0", created="2026-01-01T00:00:00+00:00", fingerprint="a")
    older.years[2010] = sweep.YearSweep(2010, [sweep.Trial(2010, {"k": 8}, 0, value=0.1, secondary=0.2)])
    older.years[2010].best = sweep.best_of(older.years[2010].trials)
    newer = sweep.SweepResult("ease", "mrr", "2.60.0", created="2026-01-02T00:00:00+00:00", fingerprint="b")
    newer.years[2009] = sweep.YearSweep(2009, [sweep.Trial(2009, {"reg": 10.0}, None, status="failed", error="x")])
    assert sweep.listing(tmp_path) == ()
    listings = []
    for result in (older, newer):
        sweep_store.save(result, tmp_path)
        listings.append(sweep.listing(tmp_path))
    assert len(listings[0]) == 1 and len(listings[1]) == 2  # a new sweep changes the key a reader caches by
    assert not list((tmp_path / ".sweeps").glob(".tmp-*"))  # written whole, then renamed
    rows = sweep.history(tmp_path)
    assert [row["model"] for row in rows] == ["ease", "cmf"]
    assert rows[0]["failed"] == 1 and rows[0]["best"] == {2009: None}
    assert rows[1]["best"] == {2010: {"params": {"k": 8}, "value": 0.1}}
    assert [row["model"] for row in sweep.history(tmp_path, fingerprint="a")] == ["cmf"]
    assert sweep.load(older.id, tmp_path).as_json() == older.as_json()
    with pytest.raises(ParameterError, match="no stored sweep"):
        sweep.load("../secrets", tmp_path)


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


def test_cli_record_appends_the_sweep_to_the_models_record_without_a_test_run(
    demo_dir, demo_dataset, ray_session, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("explorer.models.tuned.RECORDS_DIR", tmp_path)
    argv = ["-q", "sweep", "--model", "ease", "--years", "2010", "--grid", "reg=10,100", "--lines"]
    code = main([*argv, "--data-dir", str(demo_dir), "--record", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    document = json.loads(captured.out)
    assert document["years"]["2010"]["test"] is None  # choosing only: the test year is never run
    part = json.loads((tmp_path / "ease.json").read_text())["years"]["2010"]
    (round_,) = part["rounds"]
    assert round_["command"] == (
        "python -m explorer sweep --model ease --years 2010 --grid reg=10,100 --lines --metric mrr --record"
    )
    assert round_["sweep_id"] == document["id"] and round_["base"]["neighbours"] > 0
    best = document["years"]["2010"]["best"]["params"]
    assert part["chosen"]["reg"] == best["reg"] and part["validation"]["value"] > 0
