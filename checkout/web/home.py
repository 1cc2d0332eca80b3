"""The service's front page: what this is and where to go (the demo shop, the
hosted checkout, the REST API, the documentation); and ``/favicon.ico``,
which browsers ask for on every site whatever the pages link."""

from flask import Blueprint, current_app, render_template, send_from_directory

from .. import demo

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home/index.html",
                           demo_shop=demo.available(bool(current_app.config.get("DEMO"))))


@bp.get("/favicon.ico")
def favicon():
    return send_from_directory(current_app.static_folder, "favicon.ico",
                               mimetype="image/vnd.microsoft.icon", max_age=24 * 3600)


@bp.get("/healthz")
def health():
    return {"status": "ok"}
