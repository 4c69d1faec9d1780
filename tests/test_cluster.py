"""Sweeps on a real Ray cluster started the way users start one: ``ray start --head`` plus a second node.

Both nodes run on this machine (1 CPU each) with token authentication on, in a private temp folder, on
free ports and a private HOME, so nothing clashes with another Ray or touches ``~/.ray``. The driver is
``python -m explorer sweep --address …`` in a subprocess that has only ``RAY_AUTH_TOKEN``: joining must
detect the token itself. The model is a plugin (``examples/plugins/user_knn.py``) named only in the
driver's ``EXPLORER_PLUGINS``, so the trials can only find it if the sweep shipped it to the workers.

The cluster is stopped process by process: every process started for it carries a marker in its
environment (Ray's agents and workers rename themselves and outlive the raylet otherwise). ``ray stop``
is not used: it stops every Ray on the machine, including other people's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from explorer.cli import main
from tests.test_cli import assert_one_sentence_error

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
MARKER = "EXPLORER_TEST_RAY_CLUSTER"
USER_KNN = ROOT / "examples" / "plugins" / "user_knn.py"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _marked(marker: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``MARKER=marker`` (this cluster's, and only those)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get(MARKER) == marker:
                found.append(process)
        except psutil.Error:
            continue
    return found


def _stop(marker: str) -> list[str]:
    """SIGTERM this cluster's processes, SIGKILL what is left after 3 s; the names of any still alive."""
    processes = _marked(marker)
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=3)  # Ray's agents may ignore SIGTERM
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=10)
    return [process.name() for process in _marked(marker)]


def _ray_start(env: dict[str, str], temp: Path, *args: str) -> None:
    command = [
        RAY,
        "start",
        "--num-cpus",
        "1",
        "--temp-dir",
        str(temp),
        "--disable-usage-stats",
        "--object-store-memory",
        str(100 * 1024 * 1024),
        "--node-manager-port",
        str(_free_port()),
        "--object-manager-port",
        str(_free_port()),
        "--dashboard-agent-listen-port",  # 52365 by default: two nodes on one machine would clash
        str(_free_port()),
        *args,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)  # a hang guard
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def cluster(ray_module):  # noqa: ARG001 - the suite's one-Ray lock, held while the cluster runs
    """A head and a second node, both with 1 CPU and token authentication; ``(address, token, home)``."""
    folder = Path(tempfile.mkdtemp(prefix="xr-"))  # short: Ray's socket paths must stay under 108 bytes
    home = folder / "home"
    home.mkdir()
    token = secrets.token_hex(32)
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAY_")}
    env.update({MARKER: str(folder), "HOME": str(home), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
    port = _free_port()
    try:
        _ray_start(env, folder / "ray", "--head", "--port", str(port), "--include-dashboard", "false")
        _ray_start(env, folder / "ray", "--address", f"127.0.0.1:{port}")
        yield f"127.0.0.1:{port}", token, home
    finally:
        left = _stop(str(folder))
        shutil.rmtree(folder, ignore_errors=True)
    assert not left, f"the test cluster left processes running (raylet, gcs_server, agents, workers): {left}"


def _explorer(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "explorer", "-q", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sweep_joins_a_token_cluster_ships_the_plugin_and_runs_trials_on_both_nodes(cluster, demo_dir, tmp_path):
    address, token, home = cluster
    base = {key: value for key, value in os.environ.items() if not key.startswith("RAY_") and key != MARKER}
    base.update({"HOME": str(home), "EXPLORER_CACHE_DIR": str(tmp_path / "cache")})
    (tmp_path / "wrong").write_text("not-the-token\n")
    common = ("sweep", "--model", "popularity", "--years", "2010", "--data-dir", str(demo_dir), "--address", address)
    started = time.perf_counter()
    # two refusals, run alongside the sweep: a wrong token file, and no token anywhere (HOME has none)
    wrong = _explorer(*common, "--auth-token-file", str(tmp_path / "wrong"), env=base)
    missing = _explorer(*common, env=base)
    grid = ("--grid", "neighbours=5,10,20", "shrink=0,10")
    sweep = _explorer(
        "sweep",
        "--model",
        "user-knn",
        "--years",
        "2010",
        *grid,
        "--data-dir",
        str(demo_dir),
        "--address",
        address,
        "--json",
        env={**base, "RAY_AUTH_TOKEN": token, "EXPLORER_PLUGINS": str(USER_KNN)},
    )
    out, err = sweep.communicate(timeout=600)
    print(f"3x2 sweep on the 2-node cluster: {time.perf_counter() - started:.1f} s")
    assert sweep.returncode == 0, err[-3000:]
    document = json.loads(out)
    trials = document["years"]["2010"]["trials"]
    assert sorted((t["params"]["neighbours"], t["params"]["shrink"]) for t in trials) == [
        (5, 0.0),
        (5, 10.0),
        (10, 0.0),
        (10, 10.0),
        (20, 0.0),
        (20, 10.0),
    ]
    assert all(t["status"] == "ok" for t in trials), trials  # the workers found the plugin
    assert len({t["node"] for t in trials}) == 2, "every trial ran on the same node"
    assert document["years"]["2010"]["test"]["key"]  # the driver trained the best setting into its cache
    for process, words in ((wrong, ("refused the token", "--auth-token-file")), (missing, ("has no token",))):
        stdout, stderr = process.communicate(timeout=300)
        assert_one_sentence_error(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), *words)


def test_an_address_nobody_answers_is_one_sentence_at_once(demo_dir, capsys):
    address = f"127.0.0.1:{_free_port()}"
    code = main(["-q", "sweep", "--model", "popularity", "--data-dir", str(demo_dir), "--address", address])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: No Ray cluster answers at 127.0.0.1:") and "ray start --head" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
