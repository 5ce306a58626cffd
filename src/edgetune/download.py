"""Downloads: one file from a URL into edgetune's cache, checked by its sha256, with pooch.

Used by the online sources (BrainChip's pickle, BrainChip's pretrained extractor). Everything
that makes a download safe is pooch's own: the file is streamed to a temporary name in the
cache and moved into place only once complete and matching the expected sha256
(``stream_download``); a failed attempt — an HTTP error, a connection that drops mid-file (the
body shorter than its Content-Length), a read that times out, a hash that differs — is retried
``retry_if_failed`` times, then reported. A file already in the cache with the expected hash is
used without any request. Each URL has its own folder in the cache (:func:`cached_path`), so two
URLs whose paths end in the same file name never share a file. So the cache only ever holds
complete files, and :func:`forget`
removes one that was complete but could not be used (a pickle that is refused, a model that
does not convert), so that no later run trusts it.

Environment (not params: they change how a file is fetched, never what it contains, so they must
not make DVC rerun a stage): ``EDGETUNE_CACHE_DIR`` (default: the user cache, e.g.
``~/.cache/edgetune``), ``EDGETUNE_DOWNLOAD_TIMEOUT`` (seconds without data before an attempt
fails, default 60, at most a day), ``EDGETUNE_DOWNLOAD_RETRIES`` (attempts after the first,
default 2). A value that cannot be used is one line naming the variable.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from edgetune.errors import EdgetuneError

CACHE_ENV = "EDGETUNE_CACHE_DIR"
TIMEOUT_ENV = "EDGETUNE_DOWNLOAD_TIMEOUT"
RETRIES_ENV = "EDGETUNE_DOWNLOAD_RETRIES"
DEFAULT_TIMEOUT = 60.0
MAX_TIMEOUT = 86400.0  # a day; far larger overflows the socket's clock
DEFAULT_RETRIES = 2


def sha256_of(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cache_dir() -> Path:
    """Where downloads are kept: ``$EDGETUNE_CACHE_DIR`` or the user's cache (e.g. ~/.cache/edgetune)."""
    import pooch

    return Path(os.environ.get(CACHE_ENV) or pooch.os_cache("edgetune"))


def file_name(url: str) -> str:
    """The file's readable name in the cache: the last part of the URL's path."""
    return Path(urlsplit(url).path).name or "download"


def url_folder(url: str) -> str:
    """The cache's folder for ``url``: 16 hex digits of the URL's sha256.

    Keyed by the whole URL, not the file name: a file of the same name from another URL is another
    file, which the cache must never hand out in its place (with no sha256 pinned nothing would catch it).
    """
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def cached_path(url: str) -> Path:
    return cache_dir() / url_folder(url) / file_name(url)


def _env_number(name: str, default: float, kind: type, expected: str, minimum: float,
                maximum: float = math.inf) -> float:
    """``$name`` as a ``kind`` in [minimum, maximum], or ``default`` when unset or empty."""
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = math.nan
    if not (minimum <= value <= maximum and math.isfinite(value)):
        raise EdgetuneError(f"environment variable {name}={text!r}: expected {expected}; "
                            f"unset it for the default ({default:g})")
    return value


def _cache_error(name: str, folder: Path, exc: OSError) -> EdgetuneError:
    """The cache folder cannot be written: one line naming the folder, how it was chosen and the fix."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc  # pooch wraps a PermissionError
    where = (f"environment variable {CACHE_ENV}={os.environ[CACHE_ENV]!r}" if os.environ.get(CACHE_ENV)
             else f"the download cache {cache_dir()}")
    return EdgetuneError(f"{where}: cannot store {name} in {folder} ({cause.strerror or cause}); "
                         f"set {CACHE_ENV} to a writable folder")


class _ToLogger(logging.Handler):
    """Pooch's own log lines (download, retry) go to the stage's logger, not straight to stderr."""

    def __init__(self, target: logging.Logger):
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.log(record.levelno, "%s", record.getMessage())


class _Downloader:
    """pooch's HTTPDownloader with a progress bar per attempt, closed even when the attempt fails.

    pooch closes its own bar only on success: after a failure the error would be printed on the
    bar's unfinished line.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout

    def __call__(self, url: str, output_file, pooch_obj) -> None:
        import pooch
        from tqdm import tqdm

        bar = tqdm(total=0, ncols=79, unit="B", unit_scale=True, leave=True)
        try:
            pooch.HTTPDownloader(progressbar=bar, timeout=self.timeout)(url, output_file, pooch_obj)
        finally:
            bar.close()


def _reason(exc: Exception, timeout: float) -> str:
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return f"no data for {timeout:g} s, the timeout ({TIMEOUT_ENV})"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped mid-file"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect: no network, or the server refused"
    return type(exc).__name__


def fetch(url: str, sha256: str, key: str, offline_fix: str, log: logging.Logger) -> Path:
    """``url`` in the cache (downloaded once), checked against ``sha256`` unless it is empty.

    ``key`` is the params section (``data``, ``extractor``) named in errors as ``<key>.url`` and
    ``<key>.sha256``; ``offline_fix`` ends the one-line error when the download fails.
    """
    import pooch
    import requests

    timeout = _env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT, float, f"seconds from 0.001 to {MAX_TIMEOUT:g}",
                          0.001, MAX_TIMEOUT)
    retries = int(_env_number(RETRIES_ENV, DEFAULT_RETRIES, int, "a whole number ≥ 0", 0))
    name = file_name(url)
    folder = cached_path(url).parent
    logger = pooch.get_logger()
    logger.handlers = [_ToLogger(log)]
    logger.setLevel(logging.INFO)
    store = pooch.create(path=folder, base_url="", registry={name: f"sha256:{sha256}" if sha256 else None},
                         urls={name: url}, retry_if_failed=retries)
    try:
        path = Path(store.fetch(name, downloader=_Downloader(timeout)))
    except requests.exceptions.RequestException as exc:
        attempts = f" ({retries + 1} attempts)" if retries else ""
        raise EdgetuneError(f"{key}.url: cannot download {url}{attempts}: {_reason(exc, timeout)}; "
                            f"{offline_fix}") from None
    except ValueError as exc:  # pooch: the sha256 differs (every attempt)
        got = re.search(r"but got ([0-9a-fA-F]{64})", str(exc))
        if not got:
            raise EdgetuneError(f"{key}.url: cannot download {url}: {exc}") from None
        raise EdgetuneError(
            f"{key}.sha256: the file downloaded from {url} has sha256 {got.group(1)}, expected {sha256}; "
            f"the download was deleted. Fix {key}.sha256 if the file legitimately changed, else {key}.url") from None
    except OSError as exc:  # the cache folder cannot be written
        raise _cache_error(name, folder, exc) from None
    return path


def warn_unpinned(sha256: str, key: str, url: str, path: Path, log: logging.Logger) -> None:
    """No hash pinned: say the file's, once it has proved usable (never suggest pinning a refused file)."""
    if not sha256:
        log.warning("%s.sha256 is not set: %s has sha256 %s; set %s.sha256 to that value in params.yaml "
                    "to check the download from now on", key, url, sha256_of(path), key)


def forget(path: Path, log: logging.Logger) -> None:
    """Remove a downloaded file that could not be used, so that no later run trusts it."""
    try:
        path.unlink()
        log.info("removed %s from the cache: it could not be used", path)
    except FileNotFoundError:
        pass
