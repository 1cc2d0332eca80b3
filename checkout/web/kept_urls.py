"""URLs that every page links and that depend on nothing of the request but
the app's root: the static files and the favicon, built once per worker
instead of by Werkzeug's URL builder on every page (a page links four or
five of them).

``static_url(filename)`` is ``url_for('static', filename=filename)`` kept by
(script root, filename, the file's content version): a file changed on disk
gets a new ``?v=`` (checkout.web.static_files) and so a new key, exactly as
``url_for`` would give. ``endpoint_url(endpoint)`` is ``url_for(endpoint)``
for an endpoint that takes no values, kept by (script root, endpoint): the
URL map does not change while the app runs. Each app keeps its own (its
URL map and static path are its own).
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, request, url_for

from . import static_files

EXTENSION = "checkout.kept_urls"


class KeptUrls:
    def __init__(self):
        self.static = lru_cache(maxsize=256)(self._static)
        self.endpoint = lru_cache(maxsize=64)(self._endpoint)

    @staticmethod
    def _static(script_root: str, filename: str, version: str | None) -> str:
        return url_for("static", filename=filename)

    @staticmethod
    def _endpoint(script_root: str, endpoint: str) -> str:
        return url_for(endpoint)

    def static_url(self, filename: str) -> str:
        return self.static(request.script_root, filename, static_files.version_of(filename))

    def endpoint_url(self, endpoint: str) -> str:
        return self.endpoint(request.script_root, endpoint)

    def clear(self) -> None:
        self.static.cache_clear()
        self.endpoint.cache_clear()


def init_app(app: Flask) -> None:
    kept = app.extensions[EXTENSION] = KeptUrls()
    app.jinja_env.globals.update(static_url=kept.static_url, endpoint_url=kept.endpoint_url)
