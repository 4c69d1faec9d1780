"""Find, download, validate and load the hetrec2011-lastfm-2k data set.

The folder is found in this order: an explicit ``data_dir``, the ``LASTFM_DATA_DIR`` environment
variable, ``data/hetrec2011-lastfm-2k`` inside the repository, and finally a download of the
publisher's archive into ``data/``. Every table is validated on load; a broken file raises a
:class:`~explorer.errors.DataError` that names the file (and the line where it is known).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.errors import DataError

logger = logging.getLogger(__name__)

DATA_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
DATA_DIR_ENV = "LASTFM_DATA_DIR"
FOLDER_NAME = "hetrec2011-lastfm-2k"
REPO_DATA_ROOT = Path(__file__).resolve().parents[1] / "data"
SYNTHETIC_MARKER = "SYNTHETIC"
TIMESTAMPS_FILE = "user_taggedartists-timestamps.dat"
TAG_TIME_ZONE = "Europe/Madrid"


@dataclass(frozen=True)
class TableSpec:
    """How one ``.dat`` file looks: its header and which columns hold integers."""

    file: str
    columns: tuple[str, ...]
    integer_columns: tuple[str, ...]
    encoding: str = "utf-8"


TABLES: dict[str, TableSpec] = {
    "artists": TableSpec("artists.dat", ("id", "name", "url", "pictureURL"), ("id",)),
    "tags": TableSpec("tags.dat", ("tagID", "tagValue"), ("tagID",), encoding="latin-1"),
    "user_artists": TableSpec("user_artists.dat", ("userID", "artistID", "weight"), ("userID", "artistID", "weight")),
    "user_taggedartists": TableSpec(
        "user_taggedartists.dat",
        ("userID", "artistID", "tagID", "day", "month", "year"),
        ("userID", "artistID", "tagID", "day", "month", "year"),
    ),
    "user_friends": TableSpec("user_friends.dat", ("userID", "friendID"), ("userID", "friendID")),
}
TIMESTAMPS_SPEC = TableSpec(
    TIMESTAMPS_FILE,
    ("userID", "artistID", "tagID", "timestamp"),
    ("userID", "artistID", "tagID", "timestamp"),
)


@dataclass(frozen=True)
class Dataset:
    """The loaded, validated tables of one copy of the data set.

    Attributes:
        path: The folder the files were read from.
        fingerprint: 16 hex digits identifying the files' contents (used in cache keys).
        synthetic: True for the generated demo data, False for the real Last.fm data.
        artists: ``id, name, url`` (one row per artist).
        tags: ``tagID, tagValue``.
        user_artists: ``userID, artistID, weight`` (weight = listening count).
        tagged: ``userID, artistID, tagID, timestamp`` (ms since the epoch, UTC).
        friends: ``userID, friendID`` (both directions listed, a 2011 snapshot).
    """

    path: Path
    fingerprint: str
    synthetic: bool
    artists: pd.DataFrame
    tags: pd.DataFrame
    user_artists: pd.DataFrame
    tagged: pd.DataFrame
    friends: pd.DataFrame

    @property
    def label(self) -> str:
        """A short human description of where the data came from."""
        kind = "synthetic demo data" if self.synthetic else "Last.fm hetrec2011-lastfm-2k"
        return f"{kind} at {self.path}"


def find_data_dir(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the folder holding the data set, downloading it when no copy can be found.

    Args:
        data_dir: An explicit folder (e.g. ``--data-dir``); it must exist.
        download: Whether to download the publisher's archive when no copy is found.

    Raises:
        DataError: The named folder does not exist, or no copy exists and the download failed.
    """
    for source, value in (("--data-dir", data_dir), (DATA_DIR_ENV, os.environ.get(DATA_DIR_ENV))):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise DataError(
                    f"The data folder {path} given by {source} does not exist; point it at the "
                    f"unpacked {FOLDER_NAME} folder or leave it unset to download the data set."
                )
            return path.resolve()
    local = REPO_DATA_ROOT / FOLDER_NAME
    if local.is_dir():
        return local
    if not download:
        raise DataError(
            f"No copy of the data set was found; set {DATA_DIR_ENV} to the unpacked {FOLDER_NAME} "
            "folder or allow the download."
        )
    return download_data(REPO_DATA_ROOT)


def download_data(root: Path, url: str = DATA_URL) -> Path:
    """Download the publisher's zip into ``root`` and unpack it to ``root/hetrec2011-lastfm-2k``.

    The archive is unpacked into a temporary folder beside the target and renamed into place only
    once complete, so an interrupted download never leaves a half folder that is read later.
    Members whose paths would escape the folder are refused.
    """
    import pooch  # imported here: only a first run without data needs it

    root.mkdir(parents=True, exist_ok=True)
    target = root / FOLDER_NAME
    try:
        archive = pooch.retrieve(url, known_hash=None, fname=f"{FOLDER_NAME}.zip", path=root, progressbar=True)
    except Exception as error:  # requests' and pooch's errors: offline, HTTP errors, disk full
        raise DataError(
            f"Could not download the data set from {url} ({type(error).__name__}); connect to the "
            f"internet, or download and unpack that zip yourself and set {DATA_DIR_ENV} to its folder."
        ) from error
    with tempfile.TemporaryDirectory(dir=root, prefix=".unpack-") as scratch:
        unpacked = Path(scratch) / "unpacked"
        extract_zip(Path(archive), unpacked)
        folder = next((p.parent for p in unpacked.rglob("user_artists.dat")), None)
        if folder is None:
            raise DataError(f"The archive {archive} holds no user_artists.dat; delete it and retry.")
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    Path(archive).unlink(missing_ok=True)
    return target


def extract_zip(archive: Path, destination: Path) -> None:
    """Unpack ``archive`` into ``destination``, refusing members that would land outside it."""
    destination.mkdir(parents=True)
    base = destination.resolve()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                landing = (base / member.filename).resolve()
                if not landing.is_relative_to(base):
                    raise DataError(
                        f"The archive {archive} holds a file outside its folder ({member.filename}); "
                        "it is not the publisher's archive, so delete it."
                    )
            zipped.extractall(base)
    except zipfile.BadZipFile as error:
        raise DataError(f"The archive {archive} is not a valid zip file; delete it and retry.") from error


def read_table(folder: Path, spec: TableSpec) -> pd.DataFrame:
    """Read and validate one tab-separated file; integer columns come back as ``int64``.

    Raises:
        DataError: naming the file (and line) when it is missing, unreadable, has the wrong header
            or column count, a non-integer id, or no rows.
    """
    path = folder / spec.file
    if not path.is_file():
        raise DataError(f"The data file {path} is missing; re-download the data set or fix {DATA_DIR_ENV}.")
    try:
        table = pd.read_csv(
            path,
            sep="\t",
            dtype={c: str for c in spec.columns if c not in spec.integer_columns},
            encoding=spec.encoding,
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            on_bad_lines="error",
        )
    except UnicodeDecodeError as error:
        raise DataError(f"The data file {path} is not valid {spec.encoding} text; re-download it.") from error
    except pd.errors.EmptyDataError as error:
        raise DataError(f"The data file {path} is empty; re-download it.") from error
    except pd.errors.ParserError as error:
        raise DataError(f"The data file {path} is malformed ({_first_line(error)}); re-download it.") from error
    if not _ends_with_newline(path):
        raise DataError(f"The data file {path} ends in the middle of a line (truncated?); re-download it.")
    if tuple(table.columns) != spec.columns:
        raise DataError(
            f"The data file {path} has the header {'/'.join(map(str, table.columns))} instead of "
            f"{'/'.join(spec.columns)}; re-download it."
        )
    if table.empty:
        raise DataError(f"The data file {path} has a header but no rows; re-download it.")
    for column in spec.integer_columns:
        if pd.api.types.is_integer_dtype(table[column]):
            continue  # the parser read every value as an integer
        text = table[column].astype(str)
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() | (numbers != np.floor(numbers))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"The data file {path} has {text.iloc[row]!r} where line {row + 2} needs an integer "
                f"{column} (truncated or garbled file?); re-download it."
            )
        table[column] = numbers.astype(np.int64)
    return table


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1].rstrip(".")


def derive_timestamps(tagged: pd.DataFrame) -> pd.Series:
    """Timestamps (ms, UTC) of the tag days: local midnight in Madrid, as the publisher's file has.

    Each distinct day is converted once (a few thousand), then spread over the rows.

    Raises:
        DataError: a day/month/year that is not a calendar date.
    """
    codes = (tagged["year"] * 10_000 + tagged["month"] * 100 + tagged["day"]).to_numpy()
    days, row_day = np.unique(codes, return_inverse=True)
    try:
        local = pd.to_datetime(pd.Series(days).astype(str), format="%Y%m%d", errors="raise")
    except (ValueError, pd.errors.OutOfBoundsDatetime) as error:
        raise DataError(
            f"The data file user_taggedartists.dat holds a date that does not exist ({error}); re-download it."
        ) from error
    utc = local.dt.tz_localize(TAG_TIME_ZONE, nonexistent="shift_forward", ambiguous=True)
    millis = (utc.dt.tz_convert("UTC").dt.tz_localize(None) - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1)
    return pd.Series(millis.to_numpy(dtype=np.int64)[row_day], index=tagged.index, name="timestamp")


def fingerprint(folder: Path) -> str:
    """16 hex digits over the contents of the data files (changes whenever a file changes)."""
    digest = hashlib.sha256()
    names = [spec.file for spec in TABLES.values()] + [TIMESTAMPS_FILE]
    for name in sorted(names):
        path = folder / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def load_dataset(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Dataset:
    """Find (or download), validate and load the data set; says "using data at …" once per folder."""
    folder = find_data_dir(data_dir, download=download)
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*")) if p.is_file())
    return _load_folder(folder, stamp)


@functools.lru_cache(maxsize=4)
def _load_folder(folder: Path, stamp: tuple) -> Dataset:  # noqa: ARG001 - stamp invalidates the cache
    tables = {name: read_table(folder, spec) for name, spec in TABLES.items()}
    tagged = tables["user_taggedartists"]
    if (folder / TIMESTAMPS_FILE).is_file():
        tagged = read_table(folder, TIMESTAMPS_SPEC)
    else:
        tagged = tagged.assign(timestamp=derive_timestamps(tagged))
    dataset = Dataset(
        path=folder,
        fingerprint=fingerprint(folder),
        synthetic=(folder / SYNTHETIC_MARKER).exists(),
        artists=tables["artists"][["id", "name", "url"]],
        tags=tables["tags"],
        user_artists=tables["user_artists"],
        tagged=tagged[["userID", "artistID", "tagID", "timestamp"]].reset_index(drop=True),
        friends=tables["user_friends"],
    )
    logger.info("using data at %s (%s)", folder, "synthetic demo data" if dataset.synthetic else "real data")
    return dataset
