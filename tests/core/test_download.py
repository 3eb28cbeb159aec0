"""untar_data / URLs / Config: bundled samples, mirror folders, archives, downloads (faked), errors.

No test touches the network: EMBERFIT_OFFLINE=1 is set for every test, and the download tests
replace the URL opener with an in-memory fake.
"""

import csv
import gzip
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path as PlainPath

import pandas as pd
import pytest

from emberfit.core import download
from emberfit.core.download import Config, Path, URLs, untar_data

SHARED_DATA = PlainPath(
    os.environ.get("EMBERFIT_SHARED_DATA", PlainPath(__file__).resolve().parents[3] / "shared" / "data")
)
PACKAGE_DATA = PlainPath(download.__file__).resolve().parent.parent / "datasets"
SAMPLES = {URLs.IMDB_SAMPLE: "texts.csv", URLs.ADULT_SAMPLE: "adult.csv", URLs.ML_SAMPLE: "ratings.csv"}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERFIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMBERFIT_OFFLINE", "1")
    monkeypatch.delenv("EMBERFIT_DATA_MIRROR", raising=False)
    return tmp_path / "home"


def make_tgz(path, files, mode="w:gz"):
    """Write a tar archive holding ``{member name: bytes}``."""
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def write_csv_gz(path, rows):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text", "id", "rating"])
        w.writerows(rows)


# --- Config, URLs, Path ---------------------------------------------------------------------


def test_config_follows_emberfit_home_and_creates_on_demand(home):
    assert not home.exists()
    assert Config.data_path() == home / "data" and (home / "data").is_dir()
    assert Config.model_path() == home / "models" and (home / "models").is_dir()
    assert Config.home() == home


def test_config_default_home_is_dot_emberfit(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBERFIT_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert Config.data_path() == tmp_path / "user" / ".emberfit" / "data"


def test_urls_are_the_fastai_v1_addresses():
    assert URLs.IMDB == "https://s3.amazonaws.com/fast-ai-nlp/imdb"
    assert URLs.IMDB_SAMPLE == "http://files.fast.ai/data/examples/imdb_sample"
    assert URLs.ML_100k == "http://files.grouplens.org/datasets/movielens/ml-100k"
    assert URLs.WT103_FWD == "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd"
    assert URLs.WT103 == URLs.WT103_FWD


def test_ls_is_sorted_and_keeps_the_path_type(tmp_path):
    for n in ["b.txt", "a.txt", "c"]:
        (tmp_path / n).touch()
    p = Path(tmp_path)
    assert [q.name for q in p.ls()] == ["a.txt", "b.txt", "c"]
    assert all(type(q) is Path for q in p.ls())
    assert type(p / "a.txt") is Path and hasattr(p / "a.txt", "ls")


# --- bundled samples ------------------------------------------------------------------------


@pytest.mark.parametrize("url", list(SAMPLES))
def test_samples_resolve_with_no_network_and_no_mirror(url):
    path = untar_data(url)
    name = url.rsplit("/", 1)[-1]
    assert path == Config.data_path() / name and isinstance(path, Path)
    # the sample's file (ML_SAMPLE also carries emberfit's movies.csv of titles), as bundled
    assert SAMPLES[url] in [p.name for p in path.ls()]
    assert sorted(p.name for p in path.ls()) == sorted(os.listdir(PACKAGE_DATA / name))
    assert (path / SAMPLES[url]).read_bytes() == (PACKAGE_DATA / name / SAMPLES[url]).read_bytes()


def test_imdb_sample_has_the_lesson_columns():
    df = pd.read_csv(untar_data(URLs.IMDB_SAMPLE) / "texts.csv")
    assert list(df.columns) == ["label", "text", "is_valid"] and len(df) == 1000
    assert df["text"].iloc[0].startswith("Un-bleeping-believable!")


def test_sample_copy_is_writable_and_leaves_the_package_alone():
    before = sorted(os.listdir(PACKAGE_DATA / "imdb_sample"))
    path = untar_data(URLs.IMDB_SAMPLE)
    (path / "models").mkdir()  # what Learner.save does beside the data
    assert sorted(os.listdir(PACKAGE_DATA / "imdb_sample")) == before


def test_force_download_restores_a_damaged_sample():
    path = untar_data(URLs.ML_SAMPLE)
    (path / "ratings.csv").write_text("broken")
    assert untar_data(URLs.ML_SAMPLE) == path and (path / "ratings.csv").read_text() == "broken"
    untar_data(URLs.ML_SAMPLE, force_download=True)
    assert (path / "ratings.csv").read_bytes() == (
        PACKAGE_DATA / "movie_lens_sample/ratings.csv"
    ).read_bytes()


def test_existing_folder_is_used_without_mirror_or_network():
    folder = Config.data_path() / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t3\t4\n")
    assert untar_data(URLs.ML_100k) == folder


# --- mirror folders -------------------------------------------------------------------------


def test_mirror_folder_is_copied_writable(tmp_path, monkeypatch):
    src = tmp_path / "mirror" / "ml-100k"
    (src / "sub").mkdir(parents=True)
    (src / "u.data").write_bytes(b"196\t242\t3\t881250949\n")
    (src / "sub" / "x").write_bytes(b"x")
    for p in [src / "u.data", src / "sub" / "x"]:
        p.chmod(0o444)
    (src / "sub").chmod(0o555)
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    try:
        path = untar_data(URLs.ML_100k)
    finally:
        (src / "sub").chmod(0o755)
    assert path == Config.data_path() / "ml-100k"
    assert (path / "u.data").read_bytes() == b"196\t242\t3\t881250949\n" and (
        path / "sub" / "x"
    ).read_bytes() == b"x"
    (path / "sub" / "models").mkdir()  # writable even though the mirror is not
    assert [p.name for p in Config.data_path().ls()] == ["ml-100k"]  # no temp folder left


def fake_imdb_mirror(root, bad_label=False):
    src = root / "imdb"
    src.mkdir(parents=True)
    tricky = 'He said "wow", then<br /><br />left — 5/10, naïve\tsure'
    write_csv_gz(src / "train.csv.gz", [("neg", "bad film", 0, 3), ("pos", tricky, 7, 10)])
    write_csv_gz(
        src / "test.csv.gz", [("neg", "meh", 2, 1), ("pos" if not bad_label else "maybe", "fine", 5, 8)]
    )
    write_csv_gz(src / "unsup.csv.gz", [("", "no label here", 0, 0), ("", "another", 1, 0)])
    (src / "README.aclImdb.txt").write_text("Large Movie Review Dataset v1.0\n")
    return tricky


def test_imdb_csv_mirror_becomes_the_aclimdb_layout(tmp_path, monkeypatch):
    tricky = fake_imdb_mirror(tmp_path / "mirror")
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    path = untar_data(URLs.IMDB)
    assert path == Config.data_path() / "imdb"
    assert [p.name for p in path.ls()] == ["README", "test", "train"]
    assert [p.name for p in (path / "train").ls()] == ["neg", "pos", "unsup"]
    assert [p.name for p in (path / "test").ls()] == ["neg", "pos"]
    assert (path / "train/pos/7_10.txt").read_bytes() == tricky.encode("utf-8")
    assert (path / "train/neg/0_3.txt").read_text() == "bad film"
    assert (path / "test/pos/5_8.txt").read_text() == "fine"
    assert sorted(p.name for p in (path / "train/unsup").ls()) == ["0_0.txt", "1_0.txt"]
    assert (path / "README").read_text().startswith("Large Movie Review")


def test_interrupted_imdb_build_leaves_nothing_and_is_redone(tmp_path, monkeypatch):
    fake_imdb_mirror(tmp_path / "bad", bad_label=True)
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "bad"))
    with pytest.raises(ValueError, match="label 'maybe'"):
        untar_data(URLs.IMDB)
    assert Config.data_path().ls() == []  # no half-built imdb/, no temp folder
    # a folder left by a killed process (its pid no longer exists) is swept on the next build
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = Config.data_path() / f".imdb.partial-{socket.gethostname()}-{dead.stdout.strip()}-abc"
    (stale / "train").mkdir(parents=True)
    fake_imdb_mirror(tmp_path / "good")
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "good"))
    path = untar_data(URLs.IMDB)
    assert (path / "test/pos/5_8.txt").read_text() == "fine"
    assert [p.name for p in Config.data_path().ls()] == ["imdb"]


def test_mirror_that_is_not_a_folder_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="EMBERFIT_DATA_MIRROR=.*nowhere.* is not a folder"):
        untar_data(URLs.IMDB)


# --- archives -------------------------------------------------------------------------------


def test_tgz_in_mirror_extracts_to_model_path(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    make_tgz(
        tmp_path / "mirror/wt103-fwd.tgz", {"wt103-fwd/lstm_fwd.pth": b"w" * 10, "wt103-fwd/itos.txt": b"a\n"}
    )
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    path = untar_data(URLs.WT103_FWD, data=False)
    assert path == Config.model_path() / "wt103-fwd"
    assert [p.name for p in path.ls()] == ["itos.txt", "lstm_fwd.pth"]
    assert (path / "lstm_fwd.pth").read_bytes() == b"w" * 10


def test_archive_of_loose_files_and_zip_both_extract(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    make_tgz(tmp_path / "mirror/wikitext-2.tgz", {"train.csv": b"t\n", "test.csv": b"v\n"})
    with zipfile.ZipFile(tmp_path / "mirror/ml-100k.zip", "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t0\n")
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    assert [p.name for p in untar_data(URLs.WIKITEXT_TINY).ls()] == ["test.csv", "train.csv"]
    assert (untar_data(URLs.ML_100k) / "u.data").read_text() == "1\t1\t5\t0\n"


def test_archive_kept_in_the_data_folder_is_used():
    make_tgz(Config.data_path() / "tiny.tgz", {"tiny/train.txt": b"one, two"})
    assert (untar_data("https://example.invalid/tiny") / "train.txt").read_text() == "one, two"


def test_kept_archive_that_differs_from_the_published_one_is_refused():
    make_tgz(Config.data_path() / "human_numbers.tgz", {"human_numbers/train.txt": b"one, two"})
    with pytest.raises(ValueError, match="human_numbers.tgz does not match the published size/checksum"):
        untar_data(URLs.HUMAN_NUMBERS)
    assert not (Config.data_path() / "human_numbers").exists()


def unsafe_tar(path, kind):
    with tarfile.open(path, "w:gz") as tf:
        if kind == "symlink":
            info = tarfile.TarInfo("imdb/link")
            info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
            tf.addfile(info)
        else:
            name = {"dotdot": "imdb/../../evil.txt", "absolute": "/tmp/emberfit-evil.txt"}[kind]
            info = tarfile.TarInfo(name)
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_tar_escaping_the_target_is_refused(tmp_path, monkeypatch, kind):
    (tmp_path / "mirror").mkdir()
    unsafe_tar(tmp_path / "mirror/imdb.tgz", kind)
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(ValueError, match="refusing to extract .*imdb.tgz.*outside the target folder"):
        untar_data(URLs.IMDB)
    assert not (Config.data_path() / "imdb").exists() and Config.data_path().ls() == []
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "home" / "evil.txt").exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_tgz_is_a_clear_error(tmp_path, monkeypatch, damage):
    (tmp_path / "mirror").mkdir()
    good = make_tgz(tmp_path / "good.tgz", {"imdb/a.txt": os.urandom(50_000)}).read_bytes()
    bad = good[: len(good) // 2] if damage == "truncated" else b"this is not an archive" * 10
    (tmp_path / "mirror/imdb.tgz").write_bytes(bad)
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(ValueError, match="imdb.tgz is not a readable archive.*truncated or corrupt"):
        untar_data(URLs.IMDB)
    assert Config.data_path().ls() == []


# --- errors ---------------------------------------------------------------------------------


def test_missing_dataset_names_the_folder_to_fill():
    with pytest.raises(FileNotFoundError) as e:
        untar_data(URLs.IMDB)
    msg = str(e.value)
    assert "'imdb'" in msg and str(Config.data_path() / "imdb") in msg
    assert "EMBERFIT_DATA_MIRROR is not set" in msg and "EMBERFIT_OFFLINE" in msg


def test_missing_dataset_with_unreachable_network_and_mirror(tmp_path, monkeypatch):
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(tmp_path / "mirror"))
    monkeypatch.delenv("EMBERFIT_OFFLINE")

    def no_route(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_route)
    monkeypatch.setattr(download.urllib.request, "getproxies", dict)
    with pytest.raises(
        FileNotFoundError, match=r"has neither ml-100k/ nor ml-100k\.zip.*no network was found"
    ):
        untar_data(URLs.ML_100k)


@pytest.mark.parametrize("bad, exc", [(42, TypeError), (PlainPath("imdb"), TypeError), ("", ValueError)])
def test_bad_url_is_rejected(bad, exc):
    with pytest.raises(exc, match="url"):
        untar_data(bad)


# --- downloads (fake server) ----------------------------------------------------------------


class FakeServer:
    def __init__(self, body, length=None):
        self.body, self.length, self.calls = body, length, []

    def __call__(self, url, timeout):
        self.calls.append(url)
        server = self

        class Response(io.BytesIO):
            headers = {
                "Content-Length": str(server.length if server.length is not None else len(server.body))
            }

        return Response(self.body)


@pytest.fixture
def online(monkeypatch, tmp_path):
    body = make_tgz(tmp_path / "served.tgz", {"adult/adult.data": b"39, State-gov\n"}).read_bytes()
    url = "https://example.invalid/data/adult"
    monkeypatch.setattr(download, "_network_ok", lambda u: True)
    return body, url


def test_download_checks_caches_and_extracts(online, monkeypatch):
    body, url = online
    server = FakeServer(body)
    monkeypatch.setattr(download, "_urlopen", server)
    monkeypatch.setitem(download._CHECKS, url, (len(body), hashlib.md5(body[: 2**20]).hexdigest()))
    path = untar_data(url)
    assert server.calls == [url + ".tgz"]
    assert (path / "adult.data").read_bytes() == b"39, State-gov\n"
    assert (Config.data_path() / "adult.tgz").read_bytes() == body
    os.remove(path / "adult.data")
    path.rmdir()
    untar_data(url)  # the kept archive is reused, not downloaded again
    assert server.calls == [url + ".tgz"] and (path / "adult.data").exists()


def test_download_with_wrong_checksum_keeps_nothing(online, monkeypatch):
    body, url = online
    monkeypatch.setattr(download, "_urlopen", FakeServer(body))
    monkeypatch.setitem(download._CHECKS, url, (len(body), "0" * 32))
    with pytest.raises(ValueError, match="does not match its published size/checksum"):
        untar_data(url)
    assert Config.data_path().ls() == []


def test_short_download_keeps_nothing(online, monkeypatch):
    body, url = online
    monkeypatch.setattr(download, "_urlopen", FakeServer(body, length=len(body) + 100))
    with pytest.raises(OSError, match="stopped after"):
        untar_data(url)
    assert Config.data_path().ls() == []


# --- real data (shared/data as the mirror) --------------------------------------------------

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real data folder {SHARED_DATA} not present"
)


@pytest.mark.slow
@needs_shared
def test_bundled_samples_are_byte_copies_of_the_published_samples():
    for url, f in SAMPLES.items():
        name = url.rsplit("/", 1)[-1]
        assert (PACKAGE_DATA / name / f).read_bytes() == (SHARED_DATA / name / f).read_bytes()


@pytest.mark.slow
@needs_shared
def test_real_mirror_gives_ml_100k(monkeypatch):
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(SHARED_DATA))
    path = untar_data(URLs.ML_100k)
    assert path == Config.data_path() / "ml-100k"
    ratings = pd.read_csv(path / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    assert ratings.shape == (100_000, 4) and ratings.user.nunique() == 943 and ratings.item.nunique() == 1682


@pytest.mark.slow
@needs_shared
def test_real_mirror_materialises_imdb(monkeypatch):
    monkeypatch.setenv("EMBERFIT_DATA_MIRROR", str(SHARED_DATA))
    path = untar_data(URLs.IMDB)
    counts = {
        s: len(os.listdir(path / s))
        for s in ["train/pos", "train/neg", "train/unsup", "test/pos", "test/neg"]
    }
    assert counts == {
        "train/pos": 12500,
        "train/neg": 12500,
        "train/unsup": 50000,
        "test/pos": 12500,
        "test/neg": 12500,
    }
    (first_neg,) = (path / "train/neg").glob("0_*.txt")
    assert first_neg.read_text(encoding="utf-8").startswith(
        "Story of a man who has unnatural feelings for a pig"
    )
    test = pd.read_csv(SHARED_DATA / "imdb/test.csv.gz", keep_default_na=False)
    row = test.iloc[len(test) // 2]
    assert (path / "test" / row.label / f"{row.id}_{row.rating}.txt").read_bytes() == row.text.encode("utf-8")
