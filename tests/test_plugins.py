"""Plugins: models from EXPLORER_PLUGINS go wherever a built-in goes; every breach of the contract is one sentence.

Broken plugins are small generated files (a working factor model with one thing wrong); the worked examples
in examples/plugins/ are trained and compared through the real command line on the demo data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import plugins, runs
from explorer.cli import main
from explorer.models import builtins, model_class, model_names
from explorer.training import splits_of
from tests.test_cli import assert_one_sentence_error

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "plugins"
USER_KNN, TAG_PROFILE = EXAMPLES / "user_knn.py", EXAMPLES / "tag_profile.py"
APP = str(ROOT / "streamlit_app.py")

# A working plugin: a random factor model. Each broken case below replaces one part of it.
WORKING = """\
import numpy as np
from explorer.models import Param, Recommender


class Noise(Recommender):
    name = "{name}"
    PARAMS = {{"dim": Param(4, 1, 64, "vector length")}}

    def _fit(self, train, progress):
        rng = np.random.default_rng(0)
        users = rng.normal(size=(train.num_users, self.params["dim"]))
        self._set_factors(train.users, users, rng.normal(size=(train.num_items, self.params["dim"])))
{extra}

MODELS = (Noise,)
"""


def write_plugin(folder: Path, name: str = "noise", extra: str = "", source: str | None = None) -> Path:
    """A plugin file in ``folder`` (its file name is unique per test: each file is imported once a process)."""
    text = source if source is not None else WORKING.format(name=name, extra=textwrap.indent(extra, "    "))
    path = folder / f"plugin_{name.replace('-', '_')}.py"
    path.write_text(text)
    return path


def run_cli(monkeypatch, capsys, plugin: Path | str, *args: str) -> tuple[int, str]:
    monkeypatch.setenv(plugins.PLUGINS_ENV, str(plugin))
    code = main(["-q", *args])
    return code, capsys.readouterr().err


def assert_one_sentence(code: int, err: str, *words: str) -> None:
    assert_one_sentence_error(subprocess.CompletedProcess([], code, "", err), *words)


LOAD_ERRORS = {
    "missing file": (None, ("does not exist", "EXPLORER_PLUGINS")),
    "syntax error": ("import numpy as np\n\ndef broken(:\n    pass\n", ("syntax error", "line 3")),
    "import error": (
        "import numpy as np\nimport no_such_module_here\n",
        ("failed to import", "line 2", "ModuleNotFound"),
    ),
    "no MODELS": ("import numpy as np\n", ("defines no MODELS",)),
    "a built-in's name": (WORKING.format(name="ease", extra=""), ("'ease'", "built-in", "rename")),
    "no name": (WORKING.replace('    name = "{name}"\n', "").format(extra=""), ("Noise has no name",)),
    "not a Recommender": ("MODELS = (dict,)\n", ("not a subclass of explorer.models.Recommender",)),
}


@pytest.mark.parametrize("case", list(LOAD_ERRORS))
def test_a_plugin_that_cannot_load_stops_the_cli_with_one_sentence_naming_it(case, tmp_path, monkeypatch, capsys):
    source, words = LOAD_ERRORS[case]
    path = tmp_path / f"plugin_{case.replace(' ', '_').replace(chr(39), '')}.py"
    if source is not None:
        path.write_text(source)
    code, err = run_cli(monkeypatch, capsys, path, "runs", "list")
    assert_one_sentence(code, err, str(path), *words)


def test_a_syntax_error_is_one_sentence_in_a_real_process_too(tmp_path):
    path = write_plugin(tmp_path, source="x = (\n")
    env = {**os.environ, plugins.PLUGINS_ENV: str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "runs", "list"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert_one_sentence_error(done, str(path), "syntax error", "line 1")


def test_a_missing_module_name_says_how_to_make_it_importable(monkeypatch, capsys):
    code, err = run_cli(monkeypatch, capsys, "no_such_plugin_module", "runs", "list")
    assert_one_sentence(code, err, "no_such_plugin_module", "cannot be found", "PYTHONPATH")


TRAINING_ERRORS = {
    "user_ids_ unset": (
        "def _fit(self, train, progress):\n    self.user_factors_ = np.ones((train.num_users, 2))\n"
        "    self.item_factors_ = np.ones((train.num_items, 2))\n",
        ("did not set user_ids_",),
    ),
    "wrong shape": (
        "def _score_known(self, rows):\n    return np.zeros((len(rows), 3))\n",
        ("shape", "one column per train artist"),
    ),
    "NaN scores": (
        "def _score_known(self, rows):\n    return np.full((len(rows), len(self.item_ids_)), np.nan)\n",
        ("NaN",),
    ),
    "infinite scores": (
        "def _score_known(self, rows):\n    s = np.zeros((len(rows), len(self.item_ids_)))\n    s[:, 0] = np.inf\n"
        "    return s\n",
        ("NaN or infinite",),
    ),
    "state not arrays": (
        'STATE = ("user_factors", "item_factors", "lookup")\n'
        "def _fit(self, train, progress):\n    self._set_factors(train.users, np.ones((train.num_users, 2)), "
        "np.ones((train.num_items, 2)))\n    self.lookup_ = {'a': 1}\n",
        ("lookup", "dict", "numeric numpy arrays"),
    ),
    "exception in fit": (
        'def _fit(self, train, progress):\n    raise RuntimeError("the graph has no edges")\n',
        ("failed in fit", "RuntimeError: the graph has no edges"),
    ),
}


@pytest.mark.parametrize("case", list(TRAINING_ERRORS))
def test_a_plugin_that_breaks_the_contract_in_training_is_one_sentence(case, tmp_path, demo_dir, monkeypatch, capsys):
    extra, words = TRAINING_ERRORS[case]
    name = "broken-" + case.replace(" ", "-").replace("_", "")
    path = write_plugin(tmp_path, name=name, extra=extra)
    args = ("train", "--model", name, "--years", "2010", "--data-dir", str(demo_dir), "--no-maps")
    code, err = run_cli(monkeypatch, capsys, path, *args)
    assert_one_sentence(code, err, f"plugin model '{name}'", str(path), *words)


def test_a_misbehaving_model_fails_alone(tmp_path, demo_dir, monkeypatch, capsys):
    """One plugin, two models: the broken one fails with its sentence, the other trains and is cached."""
    source = WORKING.format(name="noise-ok", extra="") + textwrap.dedent(
        """
        class Broken(Noise):
            name = "noise-nan"

            def _score_known(self, rows):
                return np.full((len(rows), len(self.item_ids_)), np.nan)


        MODELS = (Noise, Broken)
        """
    )
    path = write_plugin(tmp_path, name="pair", source=source)
    common = ("--years", "2010", "--data-dir", str(demo_dir), "--no-maps")
    code, err = run_cli(monkeypatch, capsys, path, "train", "--model", "noise-nan", *common)
    assert_one_sentence(code, err, "'noise-nan'", "NaN")
    code, err = run_cli(monkeypatch, capsys, path, "train", "--model", "noise-ok", "popularity", *common)
    assert code == 0, err
    assert {"noise-ok", "popularity"} <= set(runs.table()["model"])


def test_registry_lists_built_ins_first_then_plugins_and_problems_name_the_model(tmp_path, monkeypatch):
    good = write_plugin(tmp_path, name="noise-two")
    clash = write_plugin(tmp_path, name="cmf")
    monkeypatch.setenv(plugins.PLUGINS_ENV, os.pathsep.join([str(good), str(clash)]))
    assert model_names() == [*builtins(), "noise-two"]
    assert plugins.origin(model_class("noise-two")) == str(good) and plugins.origin(model_class("cmf")) is None
    (problem,) = plugins.problems()
    assert problem.source == str(clash) and problem.models == ("cmf",)
    # on a cluster's worker the plugin is a shipped copy; errors still name it as the driver did
    monkeypatch.setenv(plugins.SHIPPED_ENV, json.dumps({model_class("noise-two").__module__: "my/noise.py"}))
    assert plugins.label(model_class("noise-two")) == "plugin model 'noise-two' (my/noise.py)"


def test_example_plugins_train_and_compare_with_popularity_and_ease_through_the_cli(demo_dir, tmp_path):
    env = {
        **os.environ,
        plugins.PLUGINS_ENV: os.pathsep.join([str(USER_KNN), str(TAG_PROFILE)]),
        "EXPLORER_CACHE_DIR": str(tmp_path / "cache"),
    }
    models = ["user-knn", "tag-profile", "popularity", "ease"]
    command = [sys.executable, "-m", "explorer", "-q", "compare", "--models", *models, "--years", "2010"]
    command += ["--data-dir", str(demo_dir), "--resamples", "1000", "--json"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    values = result["years"]["2010"]["models"]
    assert set(values) == set(models)
    assert all(0 < values[model]["mrr"]["value"] < 1 for model in models)
    verdicts = " ".join(result["verdicts"])
    assert "user-knn" in verdicts and "tag-profile" in verdicts
    listed = subprocess.run(
        [sys.executable, "-m", "explorer", "runs", "list"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert {"user-knn", "tag-profile"} <= set(listed.stdout.split())


@pytest.fixture(scope="module")
def plugin_cache(tmp_path_factory, demo_dataset):
    """A run cache with popularity and the two example plugins on the demo data for 2010."""
    cache = tmp_path_factory.mktemp("plugin-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv(plugins.PLUGINS_ENV, os.pathsep.join([str(USER_KNN), str(TAG_PROFILE)]))
    (split,) = splits_of(demo_dataset, [2010])
    for model in ("popularity", "user-knn", "tag-profile"):
        runs.run_for(demo_dataset, split, model, root=cache)
    mp.undo()
    return cache


def test_the_app_with_a_broken_plugin_serves_every_built_in_and_the_working_plugins(
    tmp_path, monkeypatch, demo_dir, plugin_cache
):
    broken = write_plugin(tmp_path, name="app-broken", source="import numpy as np\nraise ValueError('no config')\n")
    clash = write_plugin(tmp_path, name="popularity")
    monkeypatch.setenv(plugins.PLUGINS_ENV, os.pathsep.join([str(USER_KNN), str(TAG_PROFILE), str(broken), str(clash)]))
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(plugin_cache))
    at = AppTest.from_file(APP, default_timeout=900).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    assert at.multiselect(key="train_models").options == [*builtins(), "user-knn", "tag-profile"]
    warnings = [w.value for w in at.warning if "synthetic" not in w.value]
    assert len(warnings) == 2
    assert any("failed to import" in w and "no config" in w for w in warnings)
    assert any(w.startswith("popularity unavailable") and "built\\-in" in w for w in warnings)
    for page in ("pages/metrics.py", "pages/compare.py", "pages/embeddings.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
    options = at.selectbox(key="embedding_model").options  # the factor plugin has a map; user-knn has none
    assert "tag-profile" in options
    assert "user-knn" not in options


def test_a_local_sweep_hands_its_workers_absolute_plugin_paths(monkeypatch):
    """Regression: with EXPLORER_PLUGINS=examples/plugins/user_knn.py (relative), every trial of a local sweep
    failed with "There is no model 'user-knn'": Ray's workers inherit the environment, not the folder."""
    import ray

    from explorer.sweep import cluster

    seen: dict[str, str] = {}
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(plugins.PLUGINS_ENV, "examples/plugins/user_knn.py")
    monkeypatch.setattr(ray, "init", lambda **options: seen.update(os.environ))
    cluster.join(None)
    assert seen[plugins.PLUGINS_ENV] == str(USER_KNN)


def test_joining_finds_the_token_where_ray_start_writes_it(tmp_path, monkeypatch):
    from explorer.sweep import cluster

    monkeypatch.setattr(cluster, "_refresh_ray_config", lambda: None)
    for name in (cluster.AUTH_MODE_ENV, cluster.TOKEN_ENV, cluster.TOKEN_PATH_ENV):
        monkeypatch.setenv(name, "")  # recorded, so that what prepare_auth sets is undone after the test
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cluster.prepare_auth() is None and cluster.AUTH_MODE_ENV not in os.environ  # no token: no auth
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("abc123\n")
    assert cluster.prepare_auth() == str(tmp_path / ".ray" / "auth_token")
    assert os.environ[cluster.AUTH_MODE_ENV] == "token"
    (tmp_path / "head_token").write_text("fromfile\n")
    assert cluster.prepare_auth(tmp_path / "head_token") == str(tmp_path / "head_token")
    assert os.environ[cluster.TOKEN_ENV] == "fromfile"  # the file given wins over every other source


@pytest.mark.skipif(
    importlib.util.find_spec("explorer.provenance") is None, reason="runs are keyed by code once provenance lands"
)
def test_editing_a_plugin_file_makes_its_old_run_stale_and_not_served(tmp_path, demo_dir):
    """A plugin's runs are keyed by its own code (explorer.provenance.code_fingerprint of its file)."""
    path = write_plugin(tmp_path, name="noise-edit")
    env = {**os.environ, plugins.PLUGINS_ENV: str(path), "EXPLORER_CACHE_DIR": str(tmp_path / "cache")}

    def explorer(*args: str) -> str:
        command = [sys.executable, "-m", "explorer", "-q", *args]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    train = ("train", "--model", "noise-edit", "--years", "2010", "--data-dir", str(demo_dir), "--no-maps")
    assert "trained in" in explorer(*train)
    path.write_text(path.read_text().replace("default_rng(0)", "default_rng(1)"))  # new code, same name
    assert "trained in" in explorer(*train)  # the old run is not served
    listed = json.loads(explorer("runs", "list", "--json"))
    mine = [row for row in listed if row["model"] == "noise-edit"]
    assert sorted(row["stale"] for row in mine) == [False, True]  # two keys: the old code's run is stale
