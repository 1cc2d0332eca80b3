"""The service's front page: what this is and where to go."""

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template("home/index.html")


@bp.get("/healthz")
def health():
    return {"status": "ok"}
