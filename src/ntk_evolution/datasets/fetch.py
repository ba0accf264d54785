"""Downloading a file against its published MD5 checksum.

The file is streamed into a hidden partial file beside its destination (see :mod:`atomic`),
hashed on the way, and renamed into place only when its size matches what the server announced
and its checksum matches the published one. Otherwise the partial file is deleted and
:class:`FetchError` says what went wrong, so a truncated or wrong download never sits at the
destination looking valid.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path

from ntk_evolution._infra.atomic import atomic_file

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class FetchError(RuntimeError):
    """A download that failed, came back truncated or does not match its checksum."""


def fetch(url: str, path: str | Path, md5: str, *, timeout: float = 60.0) -> None:
    """Download ``url`` to ``path`` if and only if its MD5 checksum is ``md5``."""
    log.info("fetching %s into %s", url, path)
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with atomic_file(path) as out:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise FetchError(f"cannot fetch {url}: {err}") from err
        announced = response.headers.get("Content-Length")
        try:
            with response:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except (OSError, http.client.HTTPException) as err:
            raise FetchError(
                f"the download of {url} broke off after {size} bytes ({err!r}); nothing was "
                f"written to {path}. Run the same command again."
            ) from err
        if announced is not None and size != int(announced):
            raise FetchError(
                f"the download of {url} is truncated: {size} of {announced} bytes arrived; "
                f"nothing was written to {path}. Run the same command again."
            )
        if digest.hexdigest() != md5:
            raise FetchError(
                f"the file from {url} ({size} bytes) has MD5 {digest.hexdigest()}, not the "
                f"published {md5}: it is truncated, corrupt or another file; nothing was "
                f"written to {path}. Run the same command again, or point dataset.url at a "
                "mirror of the official archive."
            )
    log.info("%s: %d bytes, MD5 %s verified", path, size, md5)
