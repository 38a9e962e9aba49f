"""Tests of nnlib.data: Fashion-MNIST loading (on small IDX files made here), errors, search order,
downloads (urllib mocked), the command line, one check of the real files, and make_moons."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from nnlib import data

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 6, 4


# --- helpers: small Fashion-MNIST look-alikes -----------------------------------------------


def idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    """An IDX file: magic, one big-endian uint32 per dimension, then the payload."""
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape) + payload


def fake_arrays(
    n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        data.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        data.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        data.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        data.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def gz_files(arrays: dict[str, np.ndarray]) -> dict[str, bytes]:
    """The gzip'd IDX content of each file."""
    out = {}
    for name, a in arrays.items():
        magic = data.IMAGES_MAGIC if a.ndim == 3 else data.LABELS_MAGIC
        out[name] = gzip.compress(idx_bytes(magic, a.shape, a.tobytes()), mtime=0)
    return out


def write_dataset(
    directory: Path, arrays: dict[str, np.ndarray] | None = None, **raw: bytes
) -> dict[str, str]:
    """Write the four files (``raw`` replaces a file's bytes); return their SHA-256 checksums."""
    files = gz_files(arrays or fake_arrays())
    files.update({getattr(data, key): content for key, content in raw.items()})
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


def serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes], on_read=None) -> list[str]:
    """Mock urllib: any URL ending in a known file name serves ``files[name]``. Returns the log."""
    calls: list[str] = []

    def fake_urlopen(request, timeout=None):
        url = getattr(request, "full_url", request)
        calls.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise urllib.error.URLError(f"mock: no such file {name}")
        body = io.BytesIO(files[name])
        if on_read is not None:
            real_read = body.read
            body.read = lambda n=-1: on_read(name, real_read, n)  # type: ignore[method-assign]
        return body

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return calls


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """No $NNLIB_DATA, a private cache and system directory, and no network."""
    monkeypatch.delenv("NNLIB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(data, "SYSTEM_DIR", tmp_path / "system")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network disabled in the tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return {"cache": tmp_path / "xdg" / "nnlib" / "fashion-mnist", "system": tmp_path / "system"}


# --- loading ----------------------------------------------------------------------------------


def test_load_returns_keras_like_arrays(tmp_path: Path) -> None:
    arrays = fake_arrays()
    sums = write_dataset(tmp_path / "d", arrays)
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist(tmp_path / "d", checksums=sums)
    assert x_train.shape == (N_TRAIN, 28, 28) and x_test.shape == (N_TEST, 28, 28), "image shape"
    assert y_train.shape == (N_TRAIN,) and y_test.shape == (N_TEST,), "labels must be 1-d"
    assert x_train.dtype == np.uint8, f"images should be uint8 by default, got {x_train.dtype}"
    assert y_train.dtype == np.int64, f"labels should be int64, got {y_train.dtype}"
    np.testing.assert_array_equal(x_train, arrays[data.TRAIN_IMAGES], "train images altered")
    np.testing.assert_array_equal(y_test, arrays[data.TEST_LABELS], "test labels altered")


def test_float32_is_divided_by_255_and_flatten_gives_rows(tmp_path: Path) -> None:
    arrays = fake_arrays()
    sums = write_dataset(tmp_path, arrays)
    (x, _), (xt, _) = data.load_fashion_mnist(
        tmp_path, kind="float32", flatten=True, checksums=sums
    )
    assert x.dtype == np.float32, f"kind='float32' should give float32, got {x.dtype}"
    assert x.shape == (N_TRAIN, 784) and xt.shape == (N_TEST, 784), "flatten=True -> (N, 784)"
    expected = arrays[data.TRAIN_IMAGES].reshape(N_TRAIN, -1).astype(np.float32) / 255
    np.testing.assert_array_equal(x, expected, "float32 images must be uint8 / 255, row-major")
    assert 0.0 <= x.min() and x.max() <= 1.0, "normalized pixels must lie in [0, 1]"
    (x8, _), _ = data.load_fashion_mnist(tmp_path, flatten=True, checksums=sums)
    assert x8.dtype == np.uint8 and x8.shape == (N_TRAIN, 784), "flatten alone keeps uint8"


def test_caller_cannot_corrupt_the_in_memory_cache(tmp_path: Path) -> None:
    arrays = fake_arrays()
    sums = write_dataset(tmp_path, arrays)
    (x, y), _ = data.load_fashion_mnist(tmp_path, checksums=sums)
    x[:] = 0
    y[:] = 0
    (x2, y2), _ = data.load_fashion_mnist(tmp_path, checksums=sums)
    np.testing.assert_array_equal(x2, arrays[data.TRAIN_IMAGES], "a later load saw our edits")
    np.testing.assert_array_equal(y2, arrays[data.TRAIN_LABELS], "a later load saw our edits")


def test_replaced_files_are_read_again(tmp_path: Path) -> None:
    sums = write_dataset(tmp_path, fake_arrays(seed=1))
    data.load_fashion_mnist(tmp_path, checksums=sums)
    new = fake_arrays(n_train=3, seed=2)
    sums = write_dataset(tmp_path, new)
    (x, _), _ = data.load_fashion_mnist(tmp_path, checksums=sums)
    np.testing.assert_array_equal(x, new[data.TRAIN_IMAGES], "stale cached data was returned")


def test_bad_kind_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind"):
        data.load_fashion_mnist(tmp_path, kind="float64")


def test_class_names() -> None:
    assert len(data.CLASS_NAMES) == 10, "Fashion-MNIST has ten classes"
    assert data.CLASS_NAMES[0] == "T-shirt/top" and data.CLASS_NAMES[9] == "Ankle boot"


def test_a_folder_of_the_training_split_loads_it_and_refuses_the_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exercise 6's grading sandbox: $NNLIB_DATA holds only the two training files."""
    arrays = fake_arrays()
    sums = write_dataset(tmp_path / "d", arrays)
    for name in data.SPLITS["test"]:
        (tmp_path / "d" / name).unlink()
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path / "d"))
    x, y = data.load_fashion_mnist(kind="float32", flatten=True, split="train", checksums=sums)
    assert x.shape == (N_TRAIN, 784) and x.dtype == np.float32 and y.shape == (N_TRAIN,)
    np.testing.assert_array_equal(y, arrays[data.TRAIN_LABELS], "train labels altered")
    for split in (None, "test"):
        with pytest.raises(data.DataNotFoundError) as err:
            data.load_fashion_mnist(split=split, checksums=sums)
        msg = str(err.value)
        assert "test split is not available" in msg and data.TEST_LABELS in msg, msg
        assert "split='train'" in msg, f"must say how to load what is there: {msg}"
    with pytest.raises(ValueError, match="split must be"):
        data.load_fashion_mnist(split="validation", checksums=sums)


def test_split_test_returns_the_test_split_alone(tmp_path: Path) -> None:
    arrays = fake_arrays()
    sums = write_dataset(tmp_path / "d", arrays)
    x, y = data.load_fashion_mnist(tmp_path / "d", split="test", checksums=sums)
    np.testing.assert_array_equal(x, arrays[data.TEST_IMAGES], "test images altered")
    np.testing.assert_array_equal(y, arrays[data.TEST_LABELS], "test labels altered")
    x[0, 0, 0] ^= 1  # a fresh copy every call
    again, _ = data.load_fashion_mnist(tmp_path / "d", split="test", checksums=sums)
    np.testing.assert_array_equal(again, arrays[data.TEST_IMAGES], "the cache was modified")


# --- errors: each names the file, what was expected and found, and how to fix it -----------


def test_missing_file_in_explicit_path(tmp_path: Path) -> None:
    sums = write_dataset(tmp_path)
    (tmp_path / data.TEST_LABELS).unlink()
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_fashion_mnist(tmp_path, checksums=sums)
    msg = str(err.value)
    assert data.TEST_LABELS in msg and str(tmp_path) in msg, f"must name file and dir: {msg}"
    assert "path" in msg, f"must say which setting pointed there: {msg}"


def test_nothing_found_and_downloads_disabled(isolated: dict[str, Path]) -> None:
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_fashion_mnist(download=False)
    msg = str(err.value)
    for place in (isolated["cache"], isolated["system"]):
        assert str(place) in msg, f"the message should list where it looked ({place}): {msg}"
    assert "make data" in msg and "NNLIB_DATA" in msg, f"the message should say how to fix: {msg}"


def test_nothing_found_and_network_down(isolated: dict[str, Path]) -> None:
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_fashion_mnist()
    msg = str(err.value)
    assert "Could not download" in msg and "network disabled" in msg, f"why it failed: {msg}"
    assert data.TRAIN_IMAGES in msg, f"the message should name the file: {msg}"
    left = list(isolated["cache"].iterdir())
    assert left == [], f"a failed download must leave nothing behind, found {left}"


def test_checksum_mismatch(tmp_path: Path) -> None:
    sums = write_dataset(tmp_path)
    real = sums[data.TRAIN_LABELS]
    sums[data.TRAIN_LABELS] = "0" * 64
    with pytest.raises(data.ChecksumError) as err:
        data.load_fashion_mnist(tmp_path, checksums=sums)
    msg = str(err.value)
    assert str(tmp_path / data.TRAIN_LABELS) in msg, f"must name the file: {msg}"
    assert "0" * 64 in msg and real in msg, f"must give expected and found digests: {msg}"
    assert "delete the file" in msg and "make data" in msg, f"must say how to fix: {msg}"


def test_official_checksums_are_enforced_by_default(tmp_path: Path) -> None:
    write_dataset(tmp_path)  # valid IDX files, but not the official ones
    with pytest.raises(data.ChecksumError, match="SHA-256"):
        data.load_fashion_mnist(tmp_path)


GOOD_TRAIN_IMAGES = gz_files(fake_arrays())[data.TRAIN_IMAGES]


def flipped(blob: bytes, start: int, stop: int) -> bytes:
    """``blob`` with the bits of bytes ``start:stop`` inverted (inside the deflate stream)."""
    return blob[:start] + bytes(b ^ 0xFF for b in blob[start:stop]) + blob[stop:]


@pytest.mark.parametrize(
    ("key", "content", "expect"),
    [
        ("TRAIN_IMAGES", GOOD_TRAIN_IMAGES[:-40], "not a valid gzip file"),
        ("TRAIN_IMAGES", flipped(GOOD_TRAIN_IMAGES, 30, 60), "not a valid gzip file"),
        (
            "TRAIN_LABELS",
            gzip.compress(idx_bytes(data.IMAGES_MAGIC, (N_TRAIN,), bytes(N_TRAIN))),
            "magic number 0x00000803, expected 0x00000801",
        ),
        (
            "TEST_IMAGES",
            gzip.compress(idx_bytes(data.IMAGES_MAGIC, (N_TEST, 27, 28), bytes(N_TEST * 27 * 28))),
            "shape (4, 27, 28), expected ('any', 28, 28)",
        ),
        (
            "TEST_IMAGES",
            gzip.compress(idx_bytes(data.IMAGES_MAGIC, (N_TEST, 28, 28), bytes(784 * 3))),
            "but the payload has 2352 bytes",
        ),
        (
            "TRAIN_LABELS",
            gzip.compress(idx_bytes(data.LABELS_MAGIC, (N_TRAIN,), bytes([1, 2, 10, 3, 4, 5]))),
            "labels outside 0..9: found 10 at index 2",
        ),
        (
            "TEST_LABELS",
            gzip.compress(idx_bytes(data.LABELS_MAGIC, (3,), bytes(3))),
            "holds 3 labels, expected one per image",
        ),
    ],
    ids=[
        "truncated-gzip",
        "corrupt-gzip",
        "wrong-magic",
        "wrong-shape",
        "payload-length",
        "label-out-of-range",
        "label-count",
    ],
)
def test_bad_file_raises_a_helpful_error(tmp_path: Path, key: str, content: bytes, expect: str):
    sums = write_dataset(tmp_path, **{key: content})  # checksums match: the parser must catch it
    with pytest.raises(data.FormatError) as err:
        data.load_fashion_mnist(tmp_path, checksums=sums)
    msg = str(err.value)
    assert expect in msg, f"expected {expect!r} in the message: {msg}"
    assert str(tmp_path / getattr(data, key)) in msg, f"must name the bad file: {msg}"
    assert "To fix" in msg, f"must say how to fix it: {msg}"


def test_read_idx_parses_bytes_and_other_dtypes() -> None:
    a = np.arange(-3, 3, dtype=">i4").reshape(2, 3)
    raw = idx_bytes(0x00000C02, (2, 3), a.tobytes())
    for blob in (raw, gzip.compress(raw)):
        out = data.read_idx(blob, expected_shape=(None, 3))
        np.testing.assert_array_equal(out, a, "int32 IDX data decoded wrongly")
        assert out.dtype.isnative, "the result should be in native byte order"
    with pytest.raises(data.FormatError, match="invalid IDX magic"):
        data.read_idx(b"PK\x03\x04" + bytes(8))


# --- search order -----------------------------------------------------------------------------


@pytest.fixture
def four_places(tmp_path: Path, isolated: dict[str, Path], monkeypatch: pytest.MonkeyPatch):
    """A different data set (told apart by its size) in each place; returns place -> checksums."""
    places = {
        "path": tmp_path / "explicit",
        "env": tmp_path / "env",
        "cache": isolated["cache"],
        "system": isolated["system"],
    }
    sums = {
        p: write_dataset(d, fake_arrays(n_train=i + 1)) for i, (p, d) in enumerate(places.items())
    }
    monkeypatch.setenv("NNLIB_DATA", str(places["env"]))
    return places, sums


def test_search_order(four_places, monkeypatch: pytest.MonkeyPatch) -> None:
    places, sums = four_places

    def winner(path=None) -> str:
        found = data.locate_fashion_mnist(path)
        place = next(p for p, d in places.items() if d == found)
        (x, _), _ = data.load_fashion_mnist(path, checksums=sums[place])
        assert len(x) == list(places).index(place) + 1, "load used another directory than locate"
        return place

    assert winner(places["path"]) == "path", "an explicit path must beat everything else"
    assert winner() == "env", "$NNLIB_DATA must beat the cache and the system directory"
    monkeypatch.delenv("NNLIB_DATA")
    assert winner() == "cache", "the user cache must beat the system directory"
    (places["cache"] / data.TRAIN_IMAGES).unlink()
    assert winner() == "system", "a partial cache must be skipped for the system directory"


def test_explicit_path_never_falls_back(four_places, tmp_path: Path) -> None:
    places, _ = four_places
    with pytest.raises(data.DataNotFoundError, match="given by the `path` argument"):
        data.load_fashion_mnist(tmp_path / "empty")


def test_nnlib_data_never_falls_back(four_places, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NNLIB_DATA", str(tmp_path / "empty"))
    with pytest.raises(data.DataNotFoundError, match=r"given by \$NNLIB_DATA"):
        data.load_fashion_mnist()


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "nnlib" / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "nnlib" / "fashion-mnist"


# --- downloads (urllib mocked) ---------------------------------------------------------------


def test_download_is_atomic_and_verified(isolated, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = fake_arrays()
    files = gz_files(arrays)
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    cache = isolated["cache"]
    seen_while_streaming = []

    def on_read(name, read, n):
        seen_while_streaming.append(
            ((cache / name).exists(), [p.name for p in cache.glob(f".{name}*.part")])
        )
        return read(n)

    calls = serve(monkeypatch, files, on_read)
    (x, y), _ = data.load_fashion_mnist(checksums=sums)
    np.testing.assert_array_equal(x, arrays[data.TRAIN_IMAGES], "downloaded data differs")
    assert len(calls) == 4 and calls[0].startswith(data.MIRRORS[0]), f"URLs: {calls}"
    assert all(not exists for exists, _ in seen_while_streaming), "file visible before verified"
    assert all(parts for _, parts in seen_while_streaming), "no temporary file beside the target"
    assert sorted(p.name for p in cache.iterdir()) == sorted(data.FILES), "leftovers in cache"
    # Now in the cache: no further download.
    data.load_fashion_mnist(checksums=sums)
    assert len(calls) == 4, f"files already in the cache were downloaded again: {calls}"


def test_corrupted_download_leaves_nothing(isolated, monkeypatch: pytest.MonkeyPatch) -> None:
    files = gz_files(fake_arrays())
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    files[data.TRAIN_IMAGES] = files[data.TRAIN_IMAGES][:-10]  # what every mirror serves
    serve(monkeypatch, files)
    with pytest.raises(data.DataNotFoundError) as err:
        data.load_fashion_mnist(checksums=sums)
    msg = str(err.value)
    assert "SHA-256" in msg and data.TRAIN_IMAGES in msg, f"must say what was wrong: {msg}"
    left = list(isolated["cache"].iterdir())
    assert left == [], f"a failed download must leave nothing behind, found {left}"


def test_interrupted_download_leaves_nothing(isolated, monkeypatch) -> None:
    files = gz_files(fake_arrays())
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}

    def on_read(name, read, n):
        raise ConnectionResetError("mock: connection reset")

    serve(monkeypatch, files, on_read)
    with pytest.raises(data.DataNotFoundError, match="connection reset"):
        data.download_fashion_mnist(checksums=sums)
    left = list(isolated["cache"].iterdir())
    assert left == [], f"an interrupted download must leave nothing behind, found {left}"


def test_download_falls_back_to_the_next_mirror(isolated, monkeypatch) -> None:
    files = gz_files(fake_arrays())
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    monkeypatch.setattr(data, "MIRRORS", ("http://down.invalid/", "https://ok.invalid/"))
    good = serve(monkeypatch, files)
    real_urlopen = urllib.request.urlopen

    def flaky(request, timeout=None):
        if request.full_url.startswith("http://down.invalid/"):
            raise urllib.error.URLError("mock: mirror down")
        return real_urlopen(request, timeout)

    monkeypatch.setattr(urllib.request, "urlopen", flaky)
    assert data.download_fashion_mnist(checksums=sums) == isolated["cache"]
    assert all(url.startswith("https://ok.invalid/") for url in good), f"URLs: {good}"


def test_download_replaces_a_corrupt_cached_file(isolated, monkeypatch) -> None:
    files = gz_files(fake_arrays())
    sums = write_dataset(isolated["cache"], TRAIN_LABELS=b"garbage")
    sums[data.TRAIN_LABELS] = hashlib.sha256(files[data.TRAIN_LABELS]).hexdigest()
    calls = serve(monkeypatch, files)
    data.download_fashion_mnist(checksums=sums)
    assert [u.rsplit("/", 1)[1] for u in calls] == [data.TRAIN_LABELS], f"URLs: {calls}"
    assert (isolated["cache"] / data.TRAIN_LABELS).read_bytes() == files[data.TRAIN_LABELS]


# --- command line -----------------------------------------------------------------------------


def test_cli_check(isolated, monkeypatch, capsys) -> None:
    assert data.main(["check"]) == 1, "check must fail when nothing is found"
    err = capsys.readouterr().err
    assert "not found" in err and "make data" in err, f"check must say why: {err}"
    monkeypatch.setattr(data, "CHECKSUMS", write_dataset(isolated["system"]))
    assert data.main(["check"]) == 0, "check must succeed on verified files"
    assert capsys.readouterr().out.strip() == str(isolated["system"]), "check prints the dir"


def test_cli_download(isolated, monkeypatch, capsys) -> None:
    files = gz_files(fake_arrays())
    monkeypatch.setattr(
        data, "CHECKSUMS", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    )
    serve(monkeypatch, files)
    assert data.main(["download"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == str(isolated["cache"])
    assert data.main(["check"]) == 0, "check must find the downloaded files"


def test_cli_as_module_reports_failure(tmp_path: Path) -> None:
    env = {**os.environ, "NNLIB_DATA": str(tmp_path)}
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "nnlib.data", "check"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, f"exit status {proc.returncode}; stderr: {proc.stderr}"
    assert "NNLIB_DATA" in proc.stderr, f"the reason should name NNLIB_DATA: {proc.stderr}"


# --- the real data ----------------------------------------------------------------------------


@pytest.mark.skipif(
    not all((REAL_DIR / n).is_file() for n in data.FILES),
    reason=f"Fashion-MNIST is not installed in {REAL_DIR} (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist() -> None:
    (x, y), (xt, yt) = data.load_fashion_mnist(REAL_DIR, download=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28), (x.shape, xt.shape)
    assert y.shape == (60000,) and yt.shape == (10000,), (y.shape, yt.shape)
    assert np.bincount(y).tolist() == [6000] * 10, f"train label counts: {np.bincount(y)}"
    assert np.bincount(yt).tolist() == [1000] * 10, f"test label counts: {np.bincount(yt)}"


# --- small data sets and helpers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_samples", "kwargs"),
    [
        (100, {"random_state": 0}),
        (101, {"noise": 0.1, "random_state": 1}),
        (200, {"noise": 0.3, "random_state": 42}),
        ((7, 13), {"noise": 0.05, "random_state": 3}),
        (50, {"shuffle": False}),
    ],
)
def test_make_moons_matches_sklearn(n_samples, kwargs) -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = data.make_moons(n_samples, **kwargs)
    X_ref, y_ref = datasets.make_moons(n_samples, **kwargs)
    np.testing.assert_array_equal(X, X_ref, f"points differ from sklearn for {kwargs}")
    np.testing.assert_array_equal(y, y_ref, f"labels differ from sklearn for {kwargs}")
    assert y.dtype == y_ref.dtype, f"label dtype {y.dtype} vs sklearn's {y_ref.dtype}"


def test_make_moons_accepts_a_random_state_object() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    X, _ = data.make_moons(30, noise=0.2, random_state=np.random.RandomState(5))
    X_ref, _ = datasets.make_moons(30, noise=0.2, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(X, X_ref, "a RandomState instance must be used as sklearn does")


def test_train_val_split_holds_out_the_first_rows() -> None:
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    (X_tr, y_tr), (X_val, y_val) = data.train_val_split(X, y, n_val=3)
    np.testing.assert_array_equal(y_val, [0, 1, 2], "validation must be the first n_val rows")
    np.testing.assert_array_equal(y_tr, np.arange(3, 10), "training must be the remaining rows")
    np.testing.assert_array_equal(X_val, X[:3])
    assert len(X_tr) == 7
    with pytest.raises(ValueError, match="n_val"):
        data.train_val_split(X, y, n_val=10)


def test_subset_draws_reproducibly_from_chosen_classes() -> None:
    y = np.repeat(np.arange(10), 5)
    X = np.arange(50)[:, None] * np.ones((1, 3))
    Xs, ys = data.subset(X, y, 8, classes=[2, 7], seed=1)
    assert len(ys) == 8 and set(ys) <= {2, 7}, f"only classes 2 and 7 asked for, got {ys}"
    np.testing.assert_array_equal(y[Xs[:, 0].astype(int)], ys, "rows and labels must stay paired")
    assert len(set(Xs[:, 0])) == 8, "rows must be drawn without replacement"
    Xs2, ys2 = data.subset(X, y, 8, classes=[2, 7], seed=1)
    np.testing.assert_array_equal(ys, ys2, "the same seed must give the same rows")
    with pytest.raises(ValueError, match="rows available"):
        data.subset(X, y, 11, classes=[2, 7])
