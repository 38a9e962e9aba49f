"""Datasets: Fashion-MNIST (the official 60,000/10,000 split, verified) and the two-moons toy set.

Fashion-MNIST's four ``.gz`` files are looked for, in this order, in

1. the ``path`` argument of :func:`load_fashion_mnist` (an error if the files are not there),
2. ``$NNLIB_DATA`` (likewise an error if set and the files are not there),
3. the user cache, ``$XDG_CACHE_HOME/nnlib/fashion-mnist`` or ``~/.cache/nnlib/fashion-mnist``,
4. ``/usr/share/datasets/fashion-mnist`` (Debian's package ``dataset-fashion-mnist``),

and, when none holds all four and ``download=True``, downloaded into the user cache. Every file is
checked against its SHA-256 before it is parsed; anything wrong raises :class:`DataError` with a
message that names the file, what was expected, what was found and how to fix it.

``load_fashion_mnist(split="train")`` needs only the two training files (and ``split="test"``
only the two test files): a folder that holds one split, like the one exercise 6's grading sandbox
gets in ``$NNLIB_DATA`` (the test set stays outside, for grading), is enough for it, while asking
such a folder for the other split raises :class:`DataNotFoundError` saying so.

Command line: ``python -m nnlib.data check`` (finds and verifies, never downloads) and
``python -m nnlib.data download``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

Array = np.ndarray

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES: tuple[str, ...] = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
#: The files of each split (``split=`` of :func:`load_fashion_mnist`).
SPLITS: Mapping[str, tuple[str, str]] = {
    "train": (TRAIN_IMAGES, TRAIN_LABELS),
    "test": (TEST_IMAGES, TEST_LABELS),
}

#: SHA-256 of the official files (the same bytes on every mirror and in Debian's package).
CHECKSUMS: Mapping[str, str] = {
    TRAIN_IMAGES: "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    TRAIN_LABELS: "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    TEST_IMAGES: "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    TEST_LABELS: "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}

#: Tried in order. The official S3 *website* endpoint serves plain HTTP only (as in torchvision);
#: integrity comes from the SHA-256 check. The second is Keras' mirror.
MIRRORS: tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "NNLIB_DATA"
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# File -> (magic, shape with None for "any").
_LAYOUT = {
    TRAIN_IMAGES: (IMAGES_MAGIC, (None, 28, 28)),
    TRAIN_LABELS: (LABELS_MAGIC, (None,)),
    TEST_IMAGES: (IMAGES_MAGIC, (None, 28, 28)),
    TEST_LABELS: (LABELS_MAGIC, (None,)),
}
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_FIX = (
    "To fix: delete the file and run `make data` (or `python -m nnlib.data download`), "
    f"or `apt-get install dataset-fashion-mnist`, or set {ENV_VAR} to a directory holding the "
    "four verified files."
)


class DataError(RuntimeError):
    """A dataset file is missing, corrupt or not what was expected."""


class DataNotFoundError(DataError):
    """The files are not where they were looked for, and could not be downloaded."""


class ChecksumError(DataError):
    """A file's SHA-256 differs from the expected one."""


class FormatError(DataError):
    """A file is not valid gzip'd IDX data, or holds the wrong shape or values."""


# --- locating and verifying -----------------------------------------------------------------


def cache_dir() -> Path:
    """The user cache directory for Fashion-MNIST (where downloads go).

    Returns
    -------
    Path
        ``$XDG_CACHE_HOME/nnlib/fashion-mnist``, or ``~/.cache/nnlib/fashion-mnist`` when
        ``XDG_CACHE_HOME`` is unset or not an absolute path.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "nnlib" / "fashion-mnist"


def _files(split: str | None) -> tuple[str, ...]:
    if split is None:
        return FILES
    if split not in SPLITS:
        raise ValueError(f"split must be 'train', 'test' or None (both), got {split!r}.")
    return SPLITS[split]


def _missing(directory: Path, files: Sequence[str] = FILES) -> list[str]:
    return [name for name in files if not (directory / name).is_file()]


def locate_fashion_mnist(
    path: str | os.PathLike[str] | None = None, *, split: str | None = None
) -> Path:
    """Find the directory holding the Fashion-MNIST files, without verifying or downloading.

    Parameters
    ----------
    path : str or path-like, optional
        Look only here; an error if the files are not all there.
    split : {'train', 'test'}, optional
        Look only for the two files of this split; default: all four.

    Returns
    -------
    Path
        The first of ``path``, ``$NNLIB_DATA``, :func:`cache_dir`, :data:`SYSTEM_DIR` that holds
        the files.

    Raises
    ------
    DataNotFoundError
        If ``path`` or ``$NNLIB_DATA`` is given but lacks a file, or no candidate holds them all.
    """
    files = _files(split)
    explicit = [(Path(path), "the `path` argument")] if path is not None else []
    if not explicit and os.environ.get(ENV_VAR):
        explicit = [(Path(os.environ[ENV_VAR]), f"${ENV_VAR}")]
    for directory, origin in explicit:
        missing = _missing(directory, files)
        if missing:
            held = [name for name, pair in SPLITS.items() if not _missing(directory, pair)]
            if held:  # a folder of one split (a grading sandbox's) asked for the other
                other = "test" if held == ["train"] else "training"
                raise DataNotFoundError(
                    f"Fashion-MNIST's {other} split is not available here: {directory} (given by "
                    f"{origin}) holds only the {held[0]} split ({', '.join(SPLITS[held[0]])}), "
                    f"missing {', '.join(missing)}. While grading, the test set stays outside "
                    "the sandbox: load the training data with "
                    f"load_fashion_mnist(split={held[0]!r})."
                )
            raise DataNotFoundError(
                f"Fashion-MNIST not found in {directory} (given by {origin}): missing "
                f"{', '.join(missing)}. Expected the four files {', '.join(FILES)} there. "
                f"To fix: point {origin} at the directory that holds them, or unset it to use "
                "the cache or Debian's package (`make data` fills the cache)."
            )
        return directory
    tried = []
    for directory in (cache_dir(), SYSTEM_DIR):
        missing = _missing(directory, files)
        if not missing:
            return directory
        what = "none of the files" if len(missing) == len(files) else ", ".join(missing)
        tried.append(f"{directory} (missing {what})")
    raise DataNotFoundError(
        f"Fashion-MNIST not found: looked in {ENV_VAR} (unset), {'; '.join(tried)}. "
        "To fix: run `make data` (or `python -m nnlib.data download`), or "
        f"`apt-get install dataset-fashion-mnist`, or set {ENV_VAR} to a directory holding "
        f"{', '.join(files)}."
    )


def _checksums(checksums: Mapping[str, str] | None) -> dict[str, str]:
    result = dict(CHECKSUMS if checksums is None else checksums)
    missing = [name for name in FILES if name not in result]
    if missing:
        raise ValueError(f"checksums lacks an entry for {', '.join(missing)}.")
    return result


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime_ns are part of the cache key only: a changed file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike[str], sha256: str) -> None:
    """Check a file's SHA-256 (the result is cached per path, size and modification time).

    Parameters
    ----------
    path : str or path-like
        The file.
    sha256 : str
        The expected hex digest.

    Raises
    ------
    DataNotFoundError
        If the file does not exist.
    ChecksumError
        If the digest differs.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise DataNotFoundError(f"Cannot read {p}: {exc}. {_FIX}") from exc
    found = _sha256(str(p), st.st_size, st.st_mtime_ns)
    if found != sha256.lower():
        raise ChecksumError(
            f"{p} failed its SHA-256 check: expected {sha256.lower()}, found {found} "
            f"({st.st_size} bytes). The file is truncated, corrupt or not the official one. {_FIX}"
        )


# --- parsing --------------------------------------------------------------------------------


def read_idx(
    path_or_bytes: str | os.PathLike[str] | bytes,
    expected_magic: int | None = None,
    expected_shape: Sequence[int | None] | None = None,
) -> Array:
    """Parse an IDX file (the format of MNIST and Fashion-MNIST), gzip'd or not.

    Parameters
    ----------
    path_or_bytes : str, path-like or bytes
        A file name, or the file's content. Gzip data (``1f 8b`` first) is decompressed.
    expected_magic : int, optional
        E.g. ``0x00000803`` (:data:`IMAGES_MAGIC`, 3-d uint8) or ``0x00000801``
        (:data:`LABELS_MAGIC`, 1-d uint8).
    expected_shape : sequence of int or None, optional
        The dimensions in the header; ``None`` matches any size, e.g. ``(None, 28, 28)``.

    Returns
    -------
    array
        Shape and dtype from the header, in native byte order (read-only for uint8 data).

    Raises
    ------
    DataError
        If the file cannot be read, is not valid gzip, or its magic, dimensions or payload length
        are not as expected.
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        name, data = "IDX data", bytes(path_or_bytes)
    else:
        name = str(path_or_bytes)
        try:
            data = Path(path_or_bytes).read_bytes()
        except OSError as exc:
            raise DataNotFoundError(f"Cannot read {name}: {exc}. {_FIX}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(
                f"{name} is not a valid gzip file (truncated or corrupt: {exc}). {_FIX}"
            ) from exc
    if len(data) < 4:
        raise FormatError(f"{name} is too short for an IDX header: {len(data)} bytes. {_FIX}")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise FormatError(
            f"{name} has IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}. "
            f"It is not the right kind of IDX file (or not IDX at all). {_FIX}"
        )
    type_code, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or type_code not in _IDX_DTYPES:
        raise FormatError(f"{name} has an invalid IDX magic number 0x{magic:08x}. {_FIX}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise FormatError(
            f"{name} is truncated: its {ndim}-d IDX header needs {header} bytes, found "
            f"{len(data)}. {_FIX}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if expected_shape is not None and (
        len(shape) != len(expected_shape)
        or any(e is not None and e != s for e, s in zip(expected_shape, shape, strict=False))
    ):
        want = tuple("any" if e is None else e for e in expected_shape)
        raise FormatError(f"{name} has IDX shape {shape}, expected {want}. {_FIX}")
    dtype = np.dtype(_IDX_DTYPES[type_code])
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != n_bytes:
        raise FormatError(
            f"{name}: IDX header says shape {shape} ({n_bytes} bytes of {dtype.name}), but the "
            f"payload has {len(data) - header} bytes. The file is truncated or corrupt. {_FIX}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


@functools.lru_cache(maxsize=8)
def _load_verified(
    directory: str,
    stamps: tuple[tuple[int, int], ...],
    checksums: tuple[tuple[str, str], ...],
    split: str,
) -> tuple[Array, Array]:
    # `stamps` (size, mtime of each file) is part of the key so that replaced files are re-read.
    expected = dict(checksums)
    arrays = []
    for name in SPLITS[split]:
        path = Path(directory) / name
        verify_file(path, expected[name])
        magic, shape = _LAYOUT[name]
        arrays.append(read_idx(path, magic, shape))
    images, labels = arrays
    img_name, lbl_name = SPLITS[split]
    where = Path(directory)
    if len(images) != len(labels):
        raise FormatError(
            f"{where / lbl_name} holds {len(labels)} labels, expected one per image of "
            f"{where / img_name} ({len(images)}). {_FIX}"
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        bad = np.flatnonzero(labels >= len(CLASS_NAMES))
        raise FormatError(
            f"{where / lbl_name} has labels outside 0..{len(CLASS_NAMES) - 1}: found "
            f"{labels[bad[0]]} at index {bad[0]} ({len(bad)} such labels). {_FIX}"
        )
    result = (images, labels.astype(np.int64))
    for array in result:
        array.flags.writeable = False
    return result


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    kind: str = "uint8",
    flatten: bool = False,
    download: bool = True,
    checksums: Mapping[str, str] | None = None,
    split: str | None = None,
) -> tuple[tuple[Array, Array], tuple[Array, Array]] | tuple[Array, Array]:
    """Load Fashion-MNIST's official split, like Keras' ``fashion_mnist.load_data()``.

    Parameters
    ----------
    path : str or path-like, optional
        Directory holding the four ``.gz`` files. Default: search ``$NNLIB_DATA``, the user cache
        and ``/usr/share/datasets/fashion-mnist`` (see the module docstring).
    kind : {'uint8', 'float32'}
        ``'uint8'``: pixel values 0..255. ``'float32'``: the same divided by 255 (0.0..1.0).
    flatten : bool
        Give images as rows of 784 pixels, ``(N, 784)``, instead of ``(N, 28, 28)``.
    download : bool
        When no directory holds the files (and no ``path`` or ``$NNLIB_DATA`` is given),
        download them into the user cache.
    checksums : mapping of file name to SHA-256, optional
        Expected digests; default :data:`CHECKSUMS` (the official files).
    split : {'train', 'test'}, optional
        Load only this split (only its two files need to be there) and return it alone.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        Images ``(60000, 28, 28)`` and ``(10000, 28, 28)``, labels ``(60000,)`` and ``(10000,)``
        as int64 in ``0..9`` (names in :data:`CLASS_NAMES`). Fresh arrays on every call (the
        parsed files are cached in memory per process), so modifying them is safe. With
        ``split='train'`` only ``(x_train, y_train)``; with ``split='test'`` only
        ``(x_test, y_test)``.

    Raises
    ------
    DataError
        If the files are missing (and cannot be downloaded), corrupt, or fail their checksum; a
        folder that holds only one split (as exercise 6's grading sandbox) says so when asked for
        the other one.
    ValueError
        If ``kind`` is not ``'uint8'`` or ``'float32'``, or ``split`` is not ``'train'``,
        ``'test'`` or None.
    """
    if kind not in ("uint8", "float32"):
        raise ValueError(f"kind must be 'uint8' or 'float32', got {kind!r}.")
    _files(split)  # checks `split`
    checksums = _checksums(checksums)
    try:
        directory = locate_fashion_mnist(path, split=split)
    except DataNotFoundError:
        if not download or path is not None or os.environ.get(ENV_VAR):
            raise
        directory = download_fashion_mnist(checksums=checksums)
    directory = directory.resolve()
    key = tuple(sorted(checksums.items()))

    def images(x: Array) -> Array:  # a fresh array: the caller cannot modify the cache
        x = x.reshape(len(x), -1) if flatten else x
        return x.copy() if kind == "uint8" else x.astype(np.float32) / np.float32(255)

    out = []
    for name in SPLITS if split is None else (split,):
        stamps = tuple(
            (st.st_size, st.st_mtime_ns) for st in ((directory / n).stat() for n in SPLITS[name])
        )
        x, y = _load_verified(str(directory), stamps, key, name)
        out.append((images(x), y.copy()))
    return out[0] if split is not None else (out[0], out[1])


# --- downloading ----------------------------------------------------------------------------


def _fetch(url: str, dest: Path, sha256: str) -> None:
    """Download ``url`` to a temporary file beside ``dest``; rename it into place once verified."""
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "nnlib"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256.lower():
            raise ChecksumError(
                f"Download of {url} failed its SHA-256 check: expected {sha256.lower()}, "
                f"found {digest.hexdigest()} ({tmp.stat().st_size} bytes); nothing was saved."
            )
        os.replace(tmp, dest)  # atomic: `dest` is either absent/old or complete and verified
    finally:
        tmp.unlink(missing_ok=True)


def download_fashion_mnist(
    directory: str | os.PathLike[str] | None = None,
    *,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Download the four Fashion-MNIST files (those not already there and verified).

    Each file goes to a temporary file in ``directory`` and is renamed into place only when it
    is complete and its SHA-256 matches, so a failed download leaves nothing behind.

    Parameters
    ----------
    directory : str or path-like, optional
        Where to put the files; default :func:`cache_dir`.
    checksums : mapping of file name to SHA-256, optional
        Expected digests; default :data:`CHECKSUMS`.

    Returns
    -------
    Path
        The directory, now holding the four verified files.

    Raises
    ------
    DataNotFoundError
        If a file could not be downloaded from any of :data:`MIRRORS`.
    """
    checksums = _checksums(checksums)
    target = Path(directory) if directory is not None else cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        dest = target / name
        if dest.is_file():
            try:
                verify_file(dest, checksums[name])
                continue
            except ChecksumError:
                print(f"{dest} is corrupt: downloading it again", file=sys.stderr)
        errors = []
        for mirror in MIRRORS:
            url = mirror + name
            print(f"Downloading {url} -> {dest}", file=sys.stderr)
            try:
                _fetch(url, dest, checksums[name])
                break
            except (OSError, ValueError, DataError) as exc:  # URLError is an OSError
                errors.append(f"{url}: {exc}")
        else:
            raise DataNotFoundError(
                f"Could not download {name} into {target}. Tried: {'; '.join(errors)}. "
                "To fix: check the network connection and retry (`make data`), or "
                f"`apt-get install dataset-fashion-mnist`, or copy the four files into {target} "
                f"or into a directory named by {ENV_VAR}."
            )
    return target


# --- small datasets and helpers -------------------------------------------------------------


def make_moons(
    n_samples: int | tuple[int, int] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[Array, Array]:
    """Two interleaving half circles; identical to ``sklearn.datasets.make_moons``.

    Parameters
    ----------
    n_samples : int or (int, int)
        Total number of points (the outer moon gets ``n_samples // 2``), or the points per moon.
    shuffle : bool
        Shuffle the points (otherwise the outer moon, class 0, comes first).
    noise : float, optional
        Standard deviation of Gaussian noise added to the coordinates.
    random_state : int, RandomState or None
        Seed or generator for shuffling and noise; ``None`` uses NumPy's global ``RandomState``
        (as scikit-learn does).

    Returns
    -------
    X : array, shape (n_samples, 2)
        The points, float64.
    y : array, shape (n_samples,)
        The class of each point, 0 (outer moon) or 1 (inner moon), int.
    """
    if isinstance(n_samples, int | np.integer):
        n_out = int(n_samples) // 2
        n_in = int(n_samples) - n_out
    else:
        n_out, n_in = n_samples
    if random_state is None:
        rng = np.random.mtrand._rand
    elif isinstance(random_state, np.random.RandomState):
        rng = random_state
    else:
        rng = np.random.RandomState(random_state)
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack(
        [
            np.append(np.cos(t_out), 1 - np.cos(t_in)),
            np.append(np.sin(t_out), 1 - np.sin(t_in) - 0.5),
        ]
    ).T
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    if shuffle:
        order = np.arange(len(y))
        rng.shuffle(order)
        X, y = X[order], y[order]
    if noise is not None:
        X += rng.normal(scale=noise, size=X.shape)
    return X, y


def train_val_split(
    X: Array, y: Array, n_val: int = 10_000
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Hold out the first ``n_val`` rows as the validation set (as the lecture does).

    Parameters
    ----------
    X, y : array
        Inputs and targets with the same number of rows.
    n_val : int
        Number of validation rows, ``0 < n_val < len(X)``.

    Returns
    -------
    (X_train, y_train), (X_val, y_val)
        Views: ``X[n_val:]``, ``y[n_val:]`` and ``X[:n_val]``, ``y[:n_val]``.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}.")
    if not 0 < n_val < len(X):
        raise ValueError(f"n_val must be between 1 and {len(X) - 1}, got {n_val}.")
    return (X[n_val:], y[n_val:]), (X[:n_val], y[:n_val])


def subset(
    X: Array, y: Array, n: int, classes: Sequence[int] | None = None, seed: int = 0
) -> tuple[Array, Array]:
    """A random sample of ``n`` rows, optionally only of some classes, for small experiments.

    Parameters
    ----------
    X, y : array
        Inputs and integer labels with the same number of rows.
    n : int
        Number of rows to draw (without replacement).
    classes : sequence of int, optional
        Keep only rows whose label is one of these (labels are not renumbered).
    seed : int
        Seed of the random draw; the same seed gives the same rows.

    Returns
    -------
    X_sub, y_sub : array
        Copies of the drawn rows, in random order.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {len(y)}.")
    candidates = np.arange(len(y)) if classes is None else np.flatnonzero(np.isin(y, classes))
    if not 0 <= n <= len(candidates):
        raise ValueError(f"n must be between 0 and {len(candidates)} (rows available), got {n}.")
    rows = np.random.default_rng(seed).choice(candidates, size=n, replace=False)
    return X[rows], y[rows]


# --- command line ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nnlib.data check|download``; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 when the files are found (or downloaded) and verified, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="python -m nnlib.data", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "command",
        choices=["check", "download"],
        help="check: find and verify the files, print their directory (never downloads); "
        "download: download them into the user cache and verify them",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            directory = locate_fashion_mnist()
            for name in FILES:
                verify_file(directory / name, CHECKSUMS[name])
        else:
            directory = download_fashion_mnist()
    except DataError as exc:
        print(f"nnlib.data {args.command}: {exc}", file=sys.stderr)
        return 1
    print(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
