"""A deterministic synthetic data set with the files and schema of hetrec2011-lastfm-2k.

A few hundred users and artists in taste communities: users listen mostly to their community's
artists (with a popularity skew), tag them on dates spread over 2005–2011, and befriend mostly
people of their own community. Tests use it where the real data would be slow, and the app offers it
when no real data can be had (a ``SYNTHETIC`` marker file labels it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.data import SYNTHETIC_MARKER

GENRES = ("rock", "jazz", "electronic", "hip-hop", "metal", "folk", "classical", "pop")
# Untrusted text as the real files hold it (53 real artist names contain Markdown characters), plus
# HTML and Streamlit's own Markdown extensions: the app must show each exactly as written. Each comes
# with its URL; only http(s) URLs may become links.
AWKWARD_ARTISTS = (
    ("*NSYNC", "http://www.last.fm/music/*NSYNC"),
    ("Ke$ha", "http://www.last.fm/music/Ke$ha"),
    ("L'Arc~en~Ciel", "http://www.last.fm/music/L%27Arc~en~Ciel"),
    ("<b>x</b>", "javascript:alert(document.domain)"),
    ("N*E*R*D", "http://www.last.fm/music/N*E*R*D"),
    ("[unknown]", "http://www.last.fm/music/%5Bunknown%5D"),
    ("_Algol_", "ftp://example.org/Algol"),
    ("<img src=x onerror=alert(1)>", ""),
    (":red[Red] :material/home: $x^2$ and $y$", "https://www.last.fm/music/Red"),
    ("[click](https://example.org) **bold**", "http://www.last.fm/music/click"),
)
AWKWARD_TAGS = ("*favourite*", "<i>seen live</i>", "80s & 90s", ":sparkles: chill")


def write_synthetic_dataset(
    folder: str | os.PathLike,
    *,
    num_users: int = 300,
    num_artists: int = 400,
    num_communities: int = 6,
    seed: int = 0,
    awkward_names: bool = False,
) -> Path:
    """Write the synthetic data set's ``.dat`` files into ``folder`` (created if needed).

    Args:
        folder: Where to write ``artists.dat``, ``tags.dat``, ``user_artists.dat``,
            ``user_taggedartists.dat``, ``user_friends.dat``, a readme and the marker file.
        num_users: Number of users (default 300).
        num_artists: Number of artists (default 400).
        num_communities: Number of taste communities (default 6, at most 8).
        seed: Seed of the generator; the same arguments always give the same files.
        awkward_names: Give the most popular artists the names of :data:`AWKWARD_ARTISTS` (Markdown,
            HTML, non-http URLs) and the extra tags those of :data:`AWKWARD_TAGS`, so tests see that
            the app shows data text as text (default False: plain names).

    Returns:
        The folder, as a :class:`~pathlib.Path`.
    """
    if not 1 <= num_communities <= len(GENRES):
        raise ValueError(f"num_communities must be between 1 and {len(GENRES)}")
    rng = np.random.default_rng(seed)
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)

    # Ids with gaps, so code that confuses ids with row positions fails on this data.
    user_ids = 2 + 3 * np.arange(num_users)
    artist_ids = 1 + 2 * np.arange(num_artists)
    user_community = rng.integers(num_communities, size=num_users)
    artist_community = rng.integers(num_communities, size=num_artists)
    appeal = rng.pareto(1.2, size=num_artists) + 0.05  # heavy-tailed popularity

    artists = pd.DataFrame(
        {
            "id": artist_ids,
            "name": [
                f"Synthetic {GENRES[c].title()} Artist {i}" for i, c in zip(artist_ids, artist_community, strict=True)
            ],
            "url": [f"http://www.last.fm/music/Synthetic+Artist+{i}" for i in artist_ids],
            "pictureURL": "",
        }
    )
    if awkward_names:  # the most appealing artists: every model's top lists and most histories show them
        for position, (name, url) in zip(np.argsort(-appeal), AWKWARD_ARTISTS, strict=False):
            artists.loc[position, ["name", "url"]] = name, url
    extra_tags = AWKWARD_TAGS if awkward_names else ("favourite", "seen live", "80s", "chill")
    tag_names = list(GENRES[:num_communities]) + list(extra_tags)
    tags = pd.DataFrame({"tagID": np.arange(1, len(tag_names) + 1), "tagValue": tag_names})

    listens, tagged = [], []
    for user, community in zip(user_ids, user_community, strict=True):
        inside = artist_community == community
        weights = appeal * np.where(inside, 8.0, 1.0)
        count = int(rng.integers(8, 30))
        chosen = rng.choice(num_artists, size=count, replace=False, p=weights / weights.sum())
        plays = rng.integers(1, 5000, size=count)
        listens.append(pd.DataFrame({"userID": user, "artistID": artist_ids[chosen], "weight": plays}))
        start = pd.Timestamp(int(rng.integers(2005, 2011)), int(rng.integers(1, 13)), 1)
        days = np.sort(rng.integers(0, (pd.Timestamp(2011, 12, 31) - start).days, size=count))
        for artist, offset in zip(chosen, days, strict=True):
            day = start + pd.Timedelta(days=int(offset))
            own = artist_community[artist] + 1
            extra = rng.choice(np.arange(num_communities + 1, len(tag_names) + 1), size=rng.integers(0, 3))
            for tag in {own, *extra.tolist()}:
                tagged.append((user, artist_ids[artist], tag, day.day, day.month, day.year))

    friends = set()
    for index, user in enumerate(user_ids):
        same = np.flatnonzero(user_community == user_community[index])
        for _ in range(int(rng.integers(1, 6))):
            other = rng.choice(same) if rng.random() < 0.85 else rng.integers(num_users)
            if other != index:
                friends.add((user, user_ids[other]))
                friends.add((user_ids[other], user))

    tables = {
        "artists.dat": artists,
        "tags.dat": tags,
        "user_artists.dat": pd.concat(listens, ignore_index=True),
        "user_taggedartists.dat": pd.DataFrame(
            sorted(tagged), columns=["userID", "artistID", "tagID", "day", "month", "year"]
        ),
        "user_friends.dat": pd.DataFrame(sorted(friends), columns=["userID", "friendID"]),
    }
    for name, table in tables.items():
        encoding = "latin-1" if name == "tags.dat" else "utf-8"
        table.to_csv(path / name, sep="\t", index=False, encoding=encoding)
    (path / "readme.txt").write_text(
        "Synthetic demo data in the format of hetrec2011-lastfm-2k, written by "
        "`python -m explorer make-demo-data`. It is not real Last.fm data.\n"
    )
    (path / SYNTHETIC_MARKER).write_text(f"seed={seed}\n")
    return path


def ensure_demo_dataset(folder: str | os.PathLike) -> Path:
    """The demo data set in ``folder``, written first if it is not complete there.

    Written into a scratch folder beside it and renamed into place, so a reader never sees half the
    files and an interrupted write leaves nothing that passes for the data set.
    """
    path = Path(folder)
    if (path / SYNTHETIC_MARKER).is_file():  # the marker is the last file written
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".demo-") as scratch:
        written = write_synthetic_dataset(Path(scratch) / path.name)
        if path.exists():
            shutil.rmtree(path)  # an incomplete earlier attempt
        os.replace(written, path)
    return path
