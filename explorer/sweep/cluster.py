"""Joining a Ray cluster the way users start them, shipping this code to its workers, and where trials ran.

* **Token authentication** (Ray ≥ 2.52; ``ray start --head`` turns it on when a token exists, and Ray 2.59+
  by default). A client joining by address must set ``RAY_AUTH_MODE=token`` itself; Ray reads the token
  from ``RAY_AUTH_TOKEN``, else the file ``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``.
  :func:`prepare_auth` sets the mode when any of those holds a token (or ``--auth-token-file`` names one);
  a token sent to a cluster without authentication is ignored, so this never stops a join.
* **A cluster that cannot be reached or refuses** gives one sentence with the fix (:class:`ClusterError`),
  fast: a TCP connect (5 s) and one authenticated request before ``ray.init``, whose own retries would
  take 20 s (refused) or hang (unreachable).
* **Code on the workers**: joining ships this package and every loaded plugin through Ray's
  ``runtime_env`` (``py_modules``), and sets ``EXPLORER_PLUGINS`` on the workers to the shipped copies, so
  nothing has to be installed or copied on the nodes besides the Python libraries. The data travels in
  the trials' arguments (the object store); the run cache stays on the driver.
* **Where a trial ran**: :func:`on_node` adds the Ray node id to what a trial returns.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from explorer import plugins
from explorer.errors import ExplorerError

AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
CONNECT_TIMEOUT_S = 5.0
PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../explorer, shipped to the workers
INIT_OPTIONS = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}


class ClusterError(ExplorerError):
    """The Ray cluster cannot be reached, refuses this client, or the token file is unusable."""


def default_token_file() -> Path:
    """Where ``ray start`` and ``ray get-auth-token --generate`` keep the token: ``~/.ray/auth_token``."""
    return Path.home() / ".ray" / "auth_token"


def prepare_auth(token_file: str | os.PathLike | None = None) -> str | None:
    """Set what Ray's client needs for token authentication; where the token comes from, or None.

    ``token_file`` (``--auth-token-file``) wins over everything; else an explicit ``RAY_AUTH_MODE`` is
    respected; else a token in ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token`` turns
    ``RAY_AUTH_MODE=token`` on.

    Raises:
        ClusterError: ``token_file`` cannot be read or is empty.
    """
    source = None
    if token_file is not None:
        try:
            token = Path(token_file).expanduser().read_text().strip()
        except OSError as error:
            raise ClusterError(
                f"The token file {token_file} cannot be read ({error.strerror}); copy the head's ~/.ray/auth_token "
                "to this machine (or save the output of `ray get-auth-token` there) and give that file."
            ) from None
        if not token:
            raise ClusterError(f"The token file {token_file} is empty; give the file `ray start` wrote on the head.")
        os.environ[TOKEN_ENV] = token  # the highest of Ray's token sources
        os.environ[AUTH_MODE_ENV] = "token"
        source = str(token_file)
    elif os.environ.get(AUTH_MODE_ENV):
        source = _token_source() if os.environ[AUTH_MODE_ENV].lower() == "token" else None
    else:
        source = _token_source()
        if source is not None:
            os.environ[AUTH_MODE_ENV] = "token"
    _refresh_ray_config()
    return source


def _token_source() -> str | None:
    if os.environ.get(TOKEN_ENV, "").strip():
        return TOKEN_ENV
    if os.environ.get(TOKEN_PATH_ENV):
        return os.environ[TOKEN_PATH_ENV]
    path = default_token_file()
    return str(path) if path.is_file() and path.read_text().strip() else None


def _refresh_ray_config() -> None:
    """Make an already imported Ray read ``RAY_AUTH_MODE`` and the token again (as Ray itself does)."""
    if "ray._raylet" not in sys.modules:
        return  # Ray reads the environment when it is imported
    with contextlib.suppress(ImportError, AttributeError):
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()


def check_reachable(address: str) -> None:
    """A TCP connect to ``HOST:PORT`` within 5 s, or a :class:`ClusterError` saying what to do."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(
            f"The Ray address {address!r} is not HOST:PORT; give the one `ray start --head` printed "
            "(e.g. 10.0.0.5:6379)."
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = "no answer in 5 s" if isinstance(error, TimeoutError) else (error.strerror or type(error).__name__)
        raise ClusterError(
            f"No Ray cluster answers at {address} ({reason}); start one there with `ray start --head --port {port}` "
            "or give the address its `ray start --head` printed."
        ) from None


def join(address: str | None, *, auth_token_file: str | os.PathLike | None = None) -> None:
    """``ray.init``: a new Ray on this machine (no address) or the cluster at ``address``, with this code shipped.

    A Ray started here runs its workers in this environment: ``EXPLORER_PLUGINS`` is made absolute for them.

    Raises:
        ClusterError: the cluster cannot be reached, refuses the token, or the token file is unusable.
    """
    import ray

    if address is None:
        if auth_token_file is not None:
            raise ClusterError("--auth-token-file needs --address (or RAY_ADDRESS): a Ray started here makes its own.")
        if plugins.entries():  # the workers inherit this environment, but not the working directory
            os.environ[plugins.PLUGINS_ENV] = plugins.absolute()
        ray.init(**INIT_OPTIONS)
        return
    check_reachable(address)
    source = prepare_auth(auth_token_file)
    _check_token(address, source)
    with shipped_code() as runtime_env:
        try:
            ray.init(address=address, runtime_env=runtime_env, **INIT_OPTIONS)
        except ConnectionError as error:
            if _refused(error):
                raise ClusterError(_refusal(address, source)) from None
            raise ClusterError(
                f"Could not join the Ray cluster at {address} ({_last_line(error)}); check that `ray status "
                f"--address {address}` works from this machine."
            ) from None


def _check_token(address: str, source: str | None) -> None:
    """One authenticated request to the cluster (Ray's own join retries a refusal for 20 s)."""
    try:
        from ray._raylet import GcsClient
    except ImportError:  # a Ray without it: ray.init will tell, only slower
        return
    with _stderr_to_nowhere():  # Ray's C++ client logs the refusal as a warning line
        try:
            GcsClient(address=address)
        except Exception as error:  # noqa: BLE001 - only a refusal is ours to explain; ray.init reports the rest
            if _refused(error):
                raise ClusterError(_refusal(address, source)) from None


def _refused(error: BaseException | None) -> bool:
    while error is not None:
        if type(error).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def _refusal(address: str, source: str | None) -> str:
    if source is None:
        return (
            f"The Ray cluster at {address} requires token authentication and this machine has no token; copy the "
            "head's ~/.ray/auth_token here and pass --auth-token-file FILE (or set RAY_AUTH_TOKEN)."
        )
    return (
        f"The Ray cluster at {address} refused the token from {source}; pass the head's token with "
        "--auth-token-file FILE (its ~/.ray/auth_token, or what `ray get-auth-token` prints there)."
    )


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error.__cause__ or error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


@contextlib.contextmanager
def _stderr_to_nowhere() -> Iterator[None]:
    """Send file descriptor 2 (where Ray's C++ code logs) to /dev/null for a moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def shipped_code() -> Iterator[dict[str, Any]]:
    """The ``runtime_env`` that ships this package and the loaded plugins to every worker of the job.

    Plugin files are copied into one package with a content-hashed name (``explorer_plugins_<hash>``), so
    two plugins named alike, or a plugin named like an installed module, cannot collide on the workers;
    plugin modules given by name are shipped as their top-level package. Ray uploads everything when
    ``ray.init`` starts the job; the staging folder is removed afterwards.
    """
    loaded = plugins.load()
    staging = Path(tempfile.mkdtemp(prefix="explorer-ship-"))
    try:
        modules: list[Any] = [str(PACKAGE_DIR)]
        names: dict[str, str] = {}  # module name on the workers → the plugin as given on the driver
        files = {entry: module for entry, module in loaded.modules.items() if plugins.is_file_entry(entry)}
        if files:
            digest = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in files.values())).hexdigest()[:12]
            package = staging / f"explorer_plugins_{digest}"
            package.mkdir()
            (package / "__init__.py").write_text('"""Plugin files shipped by explorer.sweep.cluster."""\n')
            for n, (entry, module) in enumerate(files.items()):
                shutil.copyfile(module.__file__, package / f"plugin{n}_{Path(module.__file__).stem}.py")
                names[f"{package.name}.plugin{n}_{Path(module.__file__).stem}"] = entry
            modules.append(str(package))
        for entry, module in loaded.modules.items():
            if entry not in files:
                modules.append(sys.modules[module.__name__.split(".")[0]])
                names[entry] = entry
        env: dict[str, Any] = {"py_modules": modules, "excludes": ["__pycache__", "*.pyc"]}
        env["env_vars"] = {plugins.PLUGINS_ENV: os.pathsep.join(names), plugins.SHIPPED_ENV: json.dumps(names)}
        yield env
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def node_id() -> str:
    """The id of the Ray node this process runs on (hex)."""
    import ray

    return ray.get_runtime_context().get_node_id()


def on_node(trial: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``trial`` whose returned metrics also carry ``"node"``: the Ray node id it ran on."""

    @functools.wraps(trial)
    def run(config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {**trial(config, **kwargs), "node": node_id()}

    return run
