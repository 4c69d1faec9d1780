"""Tuning: blind trials (checked by what a trial really fits on and scores), records the models read, the report.

The blindness test instruments a trial in this process: it wraps ``Recommender.fit`` and the evaluator
and dates every interaction the model is fitted on and every row it is scored on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer import sweep, tuning
from explorer.cli import main
from explorer.errors import ParameterError
from explorer.models import Recommender, model_class, model_names
from explorer.models.tuned import RECORDS_DIR, tuned
from explorer.sweep import record as records
from explorer.sweep import trials as sweep_trials
from explorer.sweep.grid import seed_names
from explorer.training import interactions_of


@pytest.fixture
def seen(monkeypatch):
    """What trials fit on (``(user, artist)`` id pairs) and score (the test rows), captured as they run."""
    captured = {"fit": [], "scored": []}
    fit, evaluate = Recommender.fit, sweep_trials.evaluate

    def fitting(self, train, progress=None):
        captured["fit"].append(np.stack([train.users[train.user_idx], train.items[train.item_idx]], axis=1))
        return fit(self, train, progress)

    def scoring(score, split, **options):
        captured["scored"].append(split.test)
        return evaluate(score, split, **options)

    monkeypatch.setattr(Recommender, "fit", fitting)
    monkeypatch.setattr(sweep_trials, "evaluate", scoring)
    monkeypatch.setattr("explorer.training.evaluate", scoring)
    return captured


@pytest.mark.parametrize(
    ("model", "grid"),
    [
        ("lightgcn", ["epochs=2"]),
        ("ease-social", ["reg=10,100"]),
        ("cmf-tags", ["k=4"]),
        ("lightgcn-ease", ["mix=0.3,0.7", "gcn_epochs=2"]),  # the shared-fit path
    ],
)
def test_a_trial_fits_only_on_rows_before_its_validation_year_and_scores_only_that_year(
    demo_dataset, seen, model, grid
):
    year = 2010
    table = interactions_of(demo_dataset)
    dated = table.set_index(["userID", "artistID"])["year"]
    request = sweep.plan(demo_dataset, model, [year], grid, seeds=None)
    for group in sweep_trials.group_trials(request.trials(), model):
        outcome = sweep_trials.run_trial({"trial": group}, demo_dataset, model, "mrr", 1.0)
        assert not outcome["failed"], outcome["error"]

    assert seen["fit"] and seen["scored"]
    for pairs in seen["fit"]:
        years = dated.loc[list(map(tuple, pairs))].to_numpy()
        assert len(years) == len(pairs) and years.max() < year - 1  # every fitted row dated before Y-1
        assert len(pairs) == (table["year"] < year - 1).sum()  # and all of them
    for rows in seen["scored"]:
        assert len(rows) and set(rows["year"]) == {year - 1}  # every scored row dated in Y-1
        assert len(rows) == (table["year"] == year - 1).sum()


def test_a_record_keeps_every_round_and_chooses_over_all_of_them(demo_dataset, tmp_path):
    def result_of(points_values, seeds):
        result = sweep.SweepResult("cmf", "mrr", "2.60.0", fingerprint=demo_dataset.fingerprint)
        trials = [
            sweep.Trial(2010, point, seed, value=value + 0.001 * seed, secondary=0.1)
            for point, value in points_values
            for seed in seeds
        ]
        result.years[2010] = sweep.YearSweep(2010, trials)
        return result

    first = sweep.plan(demo_dataset, "cmf", [2010], ["k=8,16"], seeds=[0, 1])
    records.record_sweep(result_of([({"k": 8}, 0.05), ({"k": 16}, 0.06)], [0, 1]), first, "one", tmp_path)
    second = sweep.plan(demo_dataset, "cmf", [2010], ["k=32"], seeds=[0, 1])
    records.record_sweep(result_of([({"k": 32}, 0.055)], [0, 1]), second, "two", tmp_path)

    part = records.load("cmf", tmp_path)["years"]["2010"]
    assert [round_["command"] for round_ in part["rounds"]] == ["one", "two"]
    assert part["validated_on"] == 2009 and part["chosen"] == {"k": 16}  # the earlier round's point still wins
    assert part["validation"]["value"] == pytest.approx(0.0605) and part["validation"]["seeds"] == [0, 1]
    assert part["grid"] == {"k": [8, 16, 32]}
    assert tuned("cmf", tmp_path) == {2010: {"k": 16}}
    report = tuning.report(["cmf"], tmp_path)["models"]["cmf"]["years"]["2010"]
    assert report["at_edge"] == [] and report["bounds"] == {"k": [1, 1024]}

    # a round on one seed only: candidates are the points measured on that seed
    third = sweep.plan(demo_dataset, "cmf", [2010], ["k=64"], seeds=[1])
    records.record_sweep(result_of([({"k": 64}, 0.0595)], [1]), third, "three", tmp_path)
    part = records.load("cmf", tmp_path)["years"]["2010"]
    assert part["chosen"] == {"k": 16} and part["validation"]["value"] == pytest.approx(0.061)
    assert part["grid"] == {"k": [8, 16, 32, 64]}

    with pytest.raises(ParameterError, match="chooses by mrr"):
        records.check_record(sweep.plan(demo_dataset, "cmf", [2010], ["k=8"], metric="recall@10"), "x", tmp_path)
    with pytest.raises(ParameterError, match="other data"):
        records.check_record(first, "another fingerprint", tmp_path)


@pytest.mark.parametrize(
    ("value", "grid", "low", "high", "expected"),
    [
        (0.5, [0.1, 0.5, 1.0], 0.0, 1.0, (False, False)),  # inside: bracketed
        (1.0, [0.5, 1.0], 0.0, 1.0, (True, True)),  # at the grid's top, which is the bound
        (0.01, [0.001, 0.01], 0.0, 1.0, (True, False)),  # at the grid's top, below the bound: widen
        (0.0, [0.0], 0.0, 1.0, (True, False)),  # one value: the upper side was never tried
    ],
)
def test_edges_are_hard_only_where_the_grid_ends_at_the_parameters_bound(value, grid, low, high, expected):
    assert tuning.edges(value, grid, low, high) == expected


def test_cli_tuning_json_has_the_documented_shape_and_says_what_has_nothing_to_tune(capsys):
    assert main(["tuning", "--json", "--model", "popularity", "ease"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) == {"models"} and set(document["models"]) == {"popularity", "ease"}
    assert document["models"]["popularity"]["years"] == {}
    assert "nothing to tune" in document["models"]["popularity"]["note"]
    for part in document["models"]["ease"]["years"].values():
        assert set(part) == {"grid", "chosen", "validation", "at_edge", "hard_bound", "bounds"}
        assert set(part["validation"]) == {"metric", "value"}
    assert main(["tuning", "--model", "nonsense"]) == 2


def _tunable() -> list[str]:
    return [name for name in model_names() if model_class(name).PARAMS]


@pytest.mark.parametrize("model", _tunable())
def test_every_models_tuned_comes_from_its_record_chosen_blind_on_the_year_before(model):
    cls = model_class(model)
    document = records.load(model)
    assert document is not None, f"{model} has no tuning record in {RECORDS_DIR}"
    assert document["metric"] == "mrr" and set(document["years"]) == {"2008", "2009", "2010"}
    for year, part in document["years"].items():
        assert part["validated_on"] == int(year) - 1
        again = records.choose(model, part)
        assert {name: part[name] for name in ("chosen", "validation", "grid")} == {
            name: again[name] for name in ("chosen", "validation", "grid")
        }
        # the model's hyperparameters for the year are exactly the chosen point (members included)
        current = {k: v for k, v in cls.params_for(int(year)).items() if k not in seed_names(model)}
        assert current == again["point"]
        assert all(cls.TUNED[int(year)][name] == value for name, value in part["chosen"].items())
        if seed_names(model):  # a seeded model is chosen by its mean over three seeds
            assert part["validation"]["seeds"] == [0, 1, 2]
        for round_ in part["rounds"]:
            assert round_["command"].startswith(f"python -m explorer sweep --model {model} ")


def test_no_chosen_value_sits_on_a_grid_edge_that_is_not_a_hard_bound():
    assert tuning.open_edges(tuning.report(_tunable())) == []
