from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer import data
from explorer.data import DataError, derive_timestamps, extract_zip, find_data_dir, load_dataset
from explorer.synthetic import write_synthetic_dataset


def test_real_data_has_the_published_sizes(real_dataset):
    assert real_dataset.user_artists["userID"].nunique() == 1892
    assert len(real_dataset.artists) == 17632
    assert len(real_dataset.user_artists) == 92834
    assert len(real_dataset.tagged) == 186479
    assert len(real_dataset.friends) == 2 * 12717
    assert not real_dataset.synthetic


def test_tags_are_read_as_latin1(real_dataset):
    values = real_dataset.tags["tagValue"]
    assert values.str.contains("[^\x00-\x7f]", regex=True).any()  # accented tags survive
    assert not values.str.contains("\ufffd").any()


def test_derived_timestamp_is_madrid_midnight_in_utc():
    tagged = pd.DataFrame({"day": [1, 1], "month": [4, 1], "year": [2009, 2008]})
    stamps = derive_timestamps(tagged)
    assert stamps.tolist()[0] == 1238536800000  # 2009-03-31 22:00 UTC (summer time)
    assert pd.Timestamp(stamps.tolist()[1], unit="ms") == pd.Timestamp("2007-12-31 23:00")


def test_timestamps_file_is_used_when_present(tmp_path, demo_dir):
    folder = shutil.copytree(demo_dir, tmp_path / "with-stamps")
    tagged = data.read_table(folder, data.TABLES["user_taggedartists"])
    stamps = tagged[["userID", "artistID", "tagID"]].assign(timestamp=7)
    stamps.to_csv(folder / data.TIMESTAMPS_FILE, sep="\t", index=False)
    assert (load_dataset(folder).tagged["timestamp"] == 7).all()


def test_synthetic_data_is_deterministic_and_labelled(tmp_path):
    first = write_synthetic_dataset(tmp_path / "a", seed=3)
    second = write_synthetic_dataset(tmp_path / "b", seed=3)
    for name in ("user_artists.dat", "user_taggedartists.dat", "user_friends.dat", "artists.dat"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    dataset = load_dataset(first)
    assert dataset.synthetic
    assert 200 <= dataset.user_artists["userID"].nunique() <= 400
    years = pd.to_datetime(dataset.tagged["timestamp"], unit="ms").dt.year
    assert years.min() >= 2004 and years.max() <= 2011


def test_fingerprint_changes_with_the_files(tmp_path, demo_dir):
    folder = shutil.copytree(demo_dir, tmp_path / "copy")
    before = data.fingerprint(folder)
    with open(folder / "user_friends.dat", "a") as handle:
        handle.write("2\t5\n")
    assert data.fingerprint(folder) != before


def _break(folder: Path, name: str, how: str) -> None:
    path = folder / name
    if how == "missing":
        path.unlink()
    elif how == "garbled":
        path.write_bytes(b"\xff\xfe\x00garbage\x9c\x80\n" * 20)
    elif how == "truncated":
        text = path.read_bytes()
        path.write_bytes(text[: len(text) // 2 - 3])
    elif how == "wrong_header":
        lines = path.read_text(encoding="latin-1").splitlines(keepends=True)
        path.write_text("a\tb\tc\n" + "".join(lines[1:]), encoding="latin-1")
    elif how == "empty":
        path.write_text(path.read_text(encoding="latin-1").splitlines()[0] + "\n", encoding="latin-1")
    elif how == "not_integer":
        lines = path.read_text().splitlines(keepends=True)
        fields = lines[5].split("\t")
        lines[5] = "\t".join(["x7", *fields[1:]])
        path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("user_artists.dat", "missing"),
        ("artists.dat", "garbled"),
        ("user_taggedartists.dat", "truncated"),
        ("user_artists.dat", "truncated"),
        ("tags.dat", "wrong_header"),
        ("user_friends.dat", "empty"),
        ("user_artists.dat", "not_integer"),
    ],
)
def test_broken_file_gives_one_sentence_naming_it(tmp_path, demo_dir, name, how):
    folder = shutil.copytree(demo_dir, tmp_path / "broken")
    _break(folder, name, how)
    with pytest.raises(DataError) as caught:
        load_dataset(folder)
    message = str(caught.value)
    assert name in message
    assert "\n" not in message and message.endswith(".")
    if how == "not_integer":
        assert "line 6" in message  # lines[5] is the sixth line of the file


def test_explicit_missing_folder_is_an_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_data_dir(tmp_path / "nowhere")


def test_environment_variable_is_used(monkeypatch, demo_dir):
    monkeypatch.setenv("LASTFM_DATA_DIR", str(demo_dir))
    assert find_data_dir() == demo_dir.resolve()


def test_offline_download_says_what_to_do(monkeypatch, tmp_path):
    import pooch

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(DataError, match="LASTFM_DATA_DIR") as caught:
        data.download_data(tmp_path)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / data.FOLDER_NAME).exists()


def test_download_unpacks_then_renames_into_place(monkeypatch, tmp_path, demo_dir):
    import pooch

    archive = tmp_path / "served.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in demo_dir.iterdir():
            zipped.write(path, f"hetrec2011-lastfm-2k/{path.name}")
    root = tmp_path / "data"
    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: str(shutil.copy(archive, tmp_path / "got.zip")))
    folder = data.download_data(root)
    assert folder == root / data.FOLDER_NAME
    assert load_dataset(folder).user_artists.equals(load_dataset(demo_dir).user_artists)
    assert [p.name for p in root.iterdir()] == [data.FOLDER_NAME]  # no scratch folder left behind


def test_zip_member_escaping_the_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../../escaped.txt", "x")
    with pytest.raises(DataError, match="outside"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_loaded_ids_are_integers(demo_dataset):
    for column in ("userID", "artistID", "weight"):
        assert pd.api.types.is_integer_dtype(demo_dataset.user_artists[column])
    assert demo_dataset.tagged["timestamp"].dtype == np.int64
