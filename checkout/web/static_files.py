"""Static files (CSS, scripts) cached by browsers for good.

Every ``url_for('static', filename=…)`` carries ``?v=`` with a hash of the
file's content, and a request naming the current hash is answered with a
year-long ``Cache-Control``: a shopper's second checkout page (or second
order) loads no CSS or script again, and a new release changes the URL.
A request without the right hash is revalidated as before."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from functools import lru_cache
from pathlib import Path

from flask import Flask, current_app, request
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=128)
def _hash_of(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


# A file's version is looked at again after this long: a page links four or
# five static files, and their stat() and path checks were a measurable part
# of a rendered page (issue 16); a file changed on disk shows within a second.
RECHECK_SECONDS = 1.0
_seen: dict[tuple[str, str], tuple[float, str | None]] = {}  # (folder, name) -> (when, version)


def version_of(filename: str) -> str | None:
    """The content version of a file in the static folder (None for a name
    outside it, or no such file: nothing else is ever read)."""
    key = (current_app.static_folder, filename)
    now = time.monotonic()
    seen = _seen.get(key)
    if seen is not None and now - seen[0] < RECHECK_SECONDS:
        return seen[1]
    version = _version_on_disk(*key)
    if len(_seen) > 1024:
        _seen.clear()  # a bound: names come from templates and requests
    _seen[key] = (now, version)
    return version


def _version_on_disk(folder: str, filename: str) -> str | None:
    joined = safe_join(folder, filename)
    if joined is None:
        return None
    try:
        found = os.stat(joined)
    except OSError:
        return None
    return _hash_of(joined, found.st_mtime) if stat.S_ISREG(found.st_mode) else None


def max_age(filename: str | None) -> int | None:
    """Seconds a browser may keep ``filename`` as served for this request."""
    if filename and request.args.get("v") and request.args.get("v") == version_of(filename):
        return ONE_YEAR
    return None


def init_app(app: Flask) -> None:
    @app.url_defaults
    def versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = version_of(values["filename"])
            if version:
                values["v"] = version
