"""秒支付 checkout: the BeeCloud pay button, self-hosted.

``create_app`` is the only entry point (see ``wsgi.py``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as settings
from .db import db, ping_when_idle
from . import simulators

ROOT = Path(__file__).resolve().parent.parent


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, with its signer made once per set of
    keys: Flask makes a new one on every request, and making one encodes a
    probe as JSON (a measurable part of a cached page's cost, bench/README.md)."""

    def __init__(self):
        self._signers: dict[tuple, object] = {}

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        signer = self._signers.get(keys)
        if signer is None:
            signer = self._signers[keys] = super().get_signing_serializer(app)
        return signer


class CheckoutApp(Flask):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        from .web import static_files

        return static_files.max_age(filename)


def configure_logging(level_name: str) -> None:
    """Our own loggers (``checkout.*``, which include ``app.logger``) log at
    ``LOG_LEVEL`` (INFO by default); libraries (Alembic, httpx, SQLAlchemy …)
    only from WARNING, so a command prints what it did and no chatter; with
    ``LOG_LEVEL=DEBUG`` everything is shown. One stderr handler is added to
    the root logger unless it has one already (gunicorn, pytest), as
    ``logging.basicConfig`` does, so calling this for every app adds none."""
    level = logging.getLevelName(str(level_name).strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                         f"not {level_name!r}")
    logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
    logging.getLogger().setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    logging.getLogger(__name__).setLevel(level)


def create_app(config: dict | None = None) -> Flask:
    app = CheckoutApp(
        __name__,
        instance_relative_config=True,
        instance_path=os.environ.get("INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    app.session_interface = SessionCookies()

    app.config.update(settings.from_environment())
    app.config.from_pyfile("config.py", silent=True)
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.instance_secret_key(app.instance_path)
    if not app.config.get("CREDENTIALS_KEY"):
        app.config["CREDENTIALS_KEY"] = settings.instance_credentials_key(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config.get("SQLALCHEMY_DATABASE_URI") or \
        settings.database_uri(app.config.get("DATABASE_URL"), app.instance_path)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS",
                          settings.engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    # CSRF tokens do not expire while a shopper lingers on a page; they are
    # bound to the checkout instead (see checkout.web.security).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    configure_logging(app.config.get("LOG_LEVEL") or "INFO")

    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "postgresql":
                ping_when_idle(engine)

    from . import cli, web

    web.init_app(app)
    simulators.register(app)
    cli.init_app(app)
    return app
