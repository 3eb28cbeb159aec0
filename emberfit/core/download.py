"""Downloads: ``URLs``, ``Config`` (folders under ``$EMBERFIT_HOME``) and ``untar_data``.

``untar_data(url)`` returns ``<dest>/<name>`` (``dest`` defaults to ``Config.data_path()``, or
``Config.model_path()`` with ``data=False``), where ``name`` is the last part of the URL. It looks,
in order:

1. for that folder already in place (non-empty) -> returned as is;
2. for the three small samples shipped inside the package (``imdb_sample``, ``adult_sample``,
   ``movie_lens_sample``) -> copied there, so no network is ever needed for them;
3. for an archive already downloaded next to it (``<dest>/<name>.tgz``, or ``fname``) -> extracted;
4. in the folder named by ``$EMBERFIT_DATA_MIRROR``: ``<mirror>/<name>/`` (copied; for ``imdb``
   a folder of ``{train,test,unsup}.csv.gz`` is turned into the original aclImdb file layout)
   or ``<mirror>/<name>.tgz`` / ``.zip`` (extracted);
5. on the network: ``url + '.tgz'`` is downloaded (atomically, checked against fast.ai's
   published size and first-MiB md5 where known) and extracted;
6. otherwise a ``FileNotFoundError`` says where to put the files.

Folders are built in a hidden temporary sibling and renamed into place (see
:mod:`emberfit.core.archives`), so an interrupted run never leaves a half-built dataset behind:
the next call simply builds it again.
Set ``EMBERFIT_OFFLINE=1`` to never touch the network (the tests do).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import pathlib
import shutil
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import warnings

from .archives import copy_tree, extract, publish
from .io import atomic_write

__all__ = ["URLs", "Config", "untar_data", "Path"]


class Path(type(pathlib.Path())):
    """A ``pathlib.Path`` with ``ls()``, as returned by :func:`untar_data`.

    >>> Path("/").ls()[:1]  # doctest: +ELLIPSIS
    [Path('/...')]
    """

    def ls(self) -> list[Path]:
        """The folder's entries, sorted by name (so listings are reproducible)."""
        return sorted(self.iterdir())


class URLs:
    """Dataset and pretrained-model URLs of fastai v1 (``untar_data`` adds the archive suffix).

    >>> URLs.IMDB_SAMPLE
    'http://files.fast.ai/data/examples/imdb_sample'
    """

    URL = "http://files.fast.ai/data/examples/"
    S3 = "https://s3.amazonaws.com/fast-ai-"
    S3_NLP = f"{S3}nlp/"
    S3_MODEL = f"{S3}modelzoo/"

    # The lesson's datasets
    IMDB = f"{S3_NLP}imdb"
    IMDB_SAMPLE = f"{URL}imdb_sample"
    ADULT_SAMPLE = f"{URL}adult_sample"
    ML_SAMPLE = f"{URL}movie_lens_sample"
    ML_100k = "http://files.grouplens.org/datasets/movielens/ml-100k"  # published as ml-100k.zip
    HUMAN_NUMBERS = f"{URL}human_numbers"

    # NLP datasets
    AG_NEWS = f"{S3_NLP}ag_news_csv"
    AMAZON_REVIEWS = f"{S3_NLP}amazon_review_full_csv"
    AMAZON_REVIEWS_POLARITY = f"{S3_NLP}amazon_review_polarity_csv"
    DBPEDIA = f"{S3_NLP}dbpedia_csv"
    SOGOU_NEWS = f"{S3_NLP}sogou_news_csv"
    WIKITEXT = f"{S3_NLP}wikitext-103"
    WIKITEXT_TINY = f"{S3_NLP}wikitext-2"
    YAHOO_ANSWERS = f"{S3_NLP}yahoo_answers_csv"
    YELP_REVIEWS = f"{S3_NLP}yelp_review_full_csv"
    YELP_REVIEWS_POLARITY = f"{S3_NLP}yelp_review_polarity_csv"

    # Pretrained AWD-LSTM language models (use with untar_data(..., data=False))
    WT103_FWD = f"{S3_MODEL}wt103-fwd"
    WT103_BWD = f"{S3_MODEL}wt103-bwd"
    WT103 = WT103_FWD  # the lesson's older spelling


# fast.ai's published (archive size in bytes, md5 of its first MiB) for the .tgz at each URL.
_CHECKS = {
    URLs.ADULT_SAMPLE: (968212, "64eb9d7e23732de0b138f7372d15492f"),
    URLs.AG_NEWS: (11784419, "b86f328f4dbd072486591cb7a5644dcd"),
    URLs.DBPEDIA: (68341743, "239c7837b9e79db34486f3de6a00e38e"),
    URLs.HUMAN_NUMBERS: (30252, "8a19c3bfa2bcb08cd787e741261f3ea2"),
    URLs.IMDB: (144440600, "90f9b1c4ff43a90d67553c9240dc0249"),
    URLs.IMDB_SAMPLE: (571827, "0842e61a9867caa2e6fbdb14fa703d61"),
    URLs.ML_SAMPLE: (51790, "10961384dfe7c5181460390a460c1f77"),
    URLs.WIKITEXT: (190200704, "2dd8cf8693b3d27e9c8f0a7df054b2c7"),
    URLs.WIKITEXT_TINY: (4070055, "2a82d47a7b85c8b6a8e068dc4c1d37e7"),
    URLs.WT103_FWD: (105067061, "7d1114cd9684bf9d1ca3c9f6a54da6f9"),
    URLs.WT103_BWD: (105205312, "20b06f5830fd5a891d21044c28d3097f"),
}
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar")
_DOWNLOAD_SUFFIX = {"ml-100k": ".zip"}  # everything else is a fast.ai .tgz
_SAMPLES = ("imdb_sample", "adult_sample", "movie_lens_sample")
_PACKAGE_DATA = pathlib.Path(__file__).resolve().parent.parent / "datasets"
_PROBE_TIMEOUT_S = 3.0
_DOWNLOAD_TIMEOUT_S = 60.0
_urlopen = urllib.request.urlopen  # module attribute so tests can swap in a fake server


class Config:
    """Where emberfit keeps data and models: ``$EMBERFIT_HOME`` (default ``~/.emberfit``).

    >>> Config.data_path().name, Config.model_path().name
    ('data', 'models')
    """

    @classmethod
    def home(cls) -> Path:
        """The emberfit home folder, created if missing."""
        return _ensure_dir(_home())

    @classmethod
    def data_path(cls) -> Path:
        """``home()/'data'``: where datasets are extracted (created if missing)."""
        return _ensure_dir(_home() / "data")

    @classmethod
    def data_archive_path(cls) -> Path:
        """Where downloaded archives are kept: the data folder, as in fastai v1."""
        return cls.data_path()

    @classmethod
    def model_path(cls) -> Path:
        """``home()/'models'``: where pretrained models are extracted (created if missing)."""
        return _ensure_dir(_home() / "models")


def _home() -> Path:
    return Path(os.environ.get("EMBERFIT_HOME") or "~/.emberfit").expanduser()


def _ensure_dir(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(
            f"cannot create the folder {path} ({e}); set EMBERFIT_HOME to a writable folder "
            "(or pass dest=... to untar_data)"
        ) from e
    return path


def untar_data(
    url: str,
    fname: str | os.PathLike | None = None,
    dest: str | os.PathLike | None = None,
    data: bool = True,
    force_download: bool = False,
) -> Path:
    """Return the ready folder of dataset ``url`` (``<dest>/<name>``), fetching it if needed.

    ``fname`` is where the archive is (or will be) kept, ``dest`` the parent folder of the
    extracted dataset; ``data=False`` puts it under ``Config.model_path()``; ``force_download``
    removes both first. See the module docstring for where data is looked for.

    >>> path = untar_data(URLs.IMDB_SAMPLE)
    >>> [p.name for p in path.ls()]
    ['texts.csv']
    """
    if not isinstance(url, str):
        raise TypeError(
            f"untar_data: url must be a str such as URLs.IMDB_SAMPLE, got {type(url).__name__} {url!r}"
        )
    name, download_url, suffix = _split_url(url)
    parent = Path(dest).expanduser() if dest is not None else _home() / ("data" if data else "models")
    target = parent / name
    archive = Path(fname).expanduser() if fname is not None else parent / f"{name}{suffix}"
    if force_download:
        shutil.rmtree(target, ignore_errors=True)
        archive.unlink(missing_ok=True)

    if target.exists() and not target.is_dir():
        raise FileExistsError(f"untar_data: {target} exists but is not a folder; remove it and run again")
    if target.is_dir() and any(target.iterdir()):
        return target
    if data and name in _SAMPLES and (_PACKAGE_DATA / name).is_dir():
        return _from_package(name, target)
    if archive.is_file():
        _check_known(url, archive, where="kept at")
        return extract(archive, target)
    mirror = _mirror()
    if mirror is not None:
        found = _from_mirror(mirror, name, target)
        if found is not None:
            return found
    if _network_ok(download_url):
        _download(download_url, archive, _CHECKS.get(url))
        return extract(archive, target)
    raise FileNotFoundError(_missing_message(name, url, target, archive, suffix, mirror))


def _split_url(url: str) -> tuple[str, str, str]:
    """``(name, url of the archive, archive suffix)``; the URL may already end in a suffix."""
    last = url.rstrip("/").rsplit("/", 1)[-1]
    for s in _ARCHIVE_SUFFIXES:
        if last.endswith(s) and len(last) > len(s):
            return last[: -len(s)], url, s
    if last in ("", ".", "..") or "\\" in last:
        raise ValueError(
            f"untar_data: cannot take a dataset name from url={url!r}; pass a URL such as URLs.IMDB"
        )
    suffix = _DOWNLOAD_SUFFIX.get(last, ".tgz")
    return last, url + suffix, suffix


def _from_package(name: str, target: Path) -> Path:
    """Copy a bundled sample to ``target`` so that files the lesson writes beside it stay out of the package."""
    src = _PACKAGE_DATA / name
    try:
        return publish(target, lambda tmp: copy_tree(src, tmp))
    except OSError as e:
        warnings.warn(
            f"could not copy the bundled {name} to {target} ({e}); using the read-only copy in the package",
            stacklevel=3,
        )
        return Path(src)


def _mirror() -> Path | None:
    value = os.environ.get("EMBERFIT_DATA_MIRROR")
    if not value:
        return None
    mirror = Path(value).expanduser()
    if not mirror.is_dir():
        raise FileNotFoundError(
            f"EMBERFIT_DATA_MIRROR={value!r} is not a folder; point it at a folder holding "
            "<name>/ or <name>.tgz for each dataset, or unset it"
        )
    return mirror


def _from_mirror(mirror: Path, name: str, target: Path) -> Path | None:
    folder = mirror / name
    if folder.is_dir():
        if name == "imdb" and (folder / "train.csv.gz").is_file():
            return publish(target, lambda tmp: _imdb_from_csv(folder, tmp))
        return publish(target, lambda tmp: copy_tree(folder, tmp))
    for s in _ARCHIVE_SUFFIXES:
        if (mirror / f"{name}{s}").is_file():
            return extract(mirror / f"{name}{s}", target)
    return None


def _missing_message(
    name: str, url: str, target: Path, archive: Path, suffix: str, mirror: Path | None
) -> str:
    if mirror is None:
        why = "EMBERFIT_DATA_MIRROR is not set"
    else:
        why = f"EMBERFIT_DATA_MIRROR={str(mirror)!r} has neither {name}/ nor {name}{suffix}"
    net = "downloads are off (EMBERFIT_OFFLINE is set)" if _offline() else "no network was found"
    return (
        f"dataset {name!r} ({url}) is not available: {target} does not exist, {why}, and {net}. "
        f"Fix: put the extracted folder at {target} (or the archive at {archive}), "
        f"or set EMBERFIT_DATA_MIRROR to a folder holding {name}/ or {name}{suffix}."
    )


# --- the mirror's IMDB CSVs ------------------------------------------------------------------


def _imdb_from_csv(src: Path, root: Path) -> Path:
    """Write the aclImdb layout from the mirror's CSVs: ``{train,test}/{pos,neg}/<id>_<rating>.txt``.

    Unlabelled reviews go to ``train/unsup/<id>_0.txt``, where the original archive has them.
    """
    made: set[Path] = set()
    for split in ("train", "test", "unsup"):
        f = src / f"{split}.csv.gz"
        if not f.is_file():
            if split == "unsup":
                continue
            raise FileNotFoundError(
                f"the IMDB mirror folder {src} has no {f.name}; it needs train.csv.gz and test.csv.gz"
            )
        with gzip.open(f, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"label", "text", "id", "rating"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{f} lacks the columns {sorted(missing)}; expected label,text,id,rating")
            for row in reader:
                label = "unsup" if split == "unsup" else row["label"]
                if label not in ("pos", "neg", "unsup"):
                    raise ValueError(f"{f}, id {row['id']!r}: label {row['label']!r} is not 'pos' or 'neg'")
                folder = root / ("test" if split == "test" else "train") / label
                if folder not in made:
                    folder.mkdir(parents=True, exist_ok=True)
                    made.add(folder)
                # int() keeps the file name to digits whatever the CSV holds
                (folder / f"{int(row['id'])}_{int(row['rating'])}.txt").write_bytes(
                    row["text"].encode("utf-8")
                )
    readme = src / "README.aclImdb.txt"
    if readme.is_file():
        shutil.copyfile(readme, root / "README")
    return root


# --- network ----------------------------------------------------------------------------------


def _offline() -> bool:
    return os.environ.get("EMBERFIT_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _network_ok(url: str) -> bool:
    """Quick check (a few seconds at most) that the URL's host accepts connections."""
    if _offline():
        return False
    parts = urllib.parse.urlsplit(url)
    if urllib.request.getproxies().get(parts.scheme):
        return True  # only the proxy can tell; urlopen's own timeout applies
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=_PROBE_TIMEOUT_S).close()
    except (OSError, TypeError):
        return False
    return True


def _check_file(path: Path) -> tuple[int, str]:
    """(size, md5 of the first MiB): how fast.ai published its archive checksums."""
    with open(path, "rb") as f:
        head = hashlib.md5(f.read(2**20), usedforsecurity=False).hexdigest()
    return os.path.getsize(path), head


def _check_known(url: str, archive: Path, where: str) -> None:
    expected = _CHECKS.get(url)
    if expected is not None and _check_file(archive) != expected:
        raise ValueError(
            f"the archive {where} {archive} does not match the published size/checksum of {url} "
            f"(got {_check_file(archive)}, expected {expected}); delete it or call "
            "untar_data(..., force_download=True)"
        )


def _download(url: str, archive: Path, expected: tuple[int, str] | None) -> None:
    """Download to a temp file beside ``archive`` and rename it into place once it is complete and checked."""
    from tqdm.auto import tqdm

    print(f"Downloading {url}", file=sys.stderr)

    def fetch(tmp: Path) -> None:
        try:
            with _urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp, open(tmp, "wb") as out:
                total = resp.headers.get("Content-Length")
                total = int(total) if total else None
                done = 0
                with tqdm(total=total, unit="B", unit_scale=True, leave=False, disable=None) as bar:
                    while chunk := resp.read(1 << 20):
                        out.write(chunk)
                        done += len(chunk)
                        bar.update(len(chunk))
        except (urllib.error.URLError, OSError) as e:
            raise OSError(f"downloading {url} failed ({e}); run again, or use EMBERFIT_DATA_MIRROR") from e
        if total is not None and done != total:
            raise OSError(f"downloading {url} stopped after {done} of {total} bytes; run again")
        if expected is not None and _check_file(tmp) != expected:
            raise ValueError(
                f"the download of {url} does not match its published size/checksum "
                f"(got {_check_file(tmp)}, expected {expected}); nothing was kept, run again later"
            )

    atomic_write(archive, fetch)
