"""URLs that every page links and that depend on nothing of the request but
the app's root: the static files and the favicon, built once per worker
instead of by Werkzeug's URL builder on every page (a page links four or
five of them).

``static_url(filename)`` is ``url_for('static', filename=filename)`` kept by
(script root, filename, the file's content version): a file changed on disk
gets a new ``?v=`` (checkout.web.static_files) and so a new key, exactly as
``url_for`` would give. ``endpoint_url(endpoint)`` is ``url_for(endpoint)``
for an endpoint that takes no values, kept by (script root, endpoint): the
URL map does not change while the app runs.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, request, url_for

from . import static_files


@lru_cache(maxsize=256)
def _static_url(script_root: str, filename: str, version: str | None) -> str:
    return url_for("static", filename=filename)


@lru_cache(maxsize=64)
def _endpoint_url(script_root: str, endpoint: str) -> str:
    return url_for(endpoint)


def static_url(filename: str) -> str:
    return _static_url(request.script_root, filename, static_files.version_of(filename))


def endpoint_url(endpoint: str) -> str:
    return _endpoint_url(request.script_root, endpoint)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(static_url=static_url, endpoint_url=endpoint_url)
