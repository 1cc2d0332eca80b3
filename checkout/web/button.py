"""The drop-in 秒支付 button script (seed 003 lines 325-391):

    GET /1/pay/jsbutton/returnscripts?appId=…[&useId=…]   the merchant's <script> tag
    GET /1/pay/jsbutton/bc-button.<version>.js           the button itself, immutable

Versioning: the script tag's URL never changes on a merchant's page, so it
answers a tiny loader (``Cache-Control: max-age=300`` and an ETag) holding
this app's base URL, the appId, the useId and the merchant's public frame
origins, which loads the button under a URL naming its content hash. A new
release changes the hash, so every page picks it up within five minutes,
while the button itself is cached for a year. An unknown appId still gets a
loader: ``BC.click`` then reports the problem through ``dataError`` /
``BC.err`` (a 404 would leave the merchant's page with no ``BC`` at all).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, make_response, request, send_file

from ..merchants import get_merchant
from ..sandbox.links import base_url

bp = Blueprint("button", __name__)

LOADER_MAX_AGE = 300
BUTTON_MAX_AGE = 365 * 24 * 3600


def _button_file() -> Path:
    return Path(current_app.static_folder) / "js" / "bc-button.js"


@lru_cache(maxsize=4)
def _version_of(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def button_version() -> str:
    path = _button_file()
    return _version_of(str(path), path.stat().st_mtime)


def _loader(config: dict, version: str) -> str:
    # JSON inside a script: "</" is escaped so no value can close the tag.
    data = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    src = f"{config['base']}/1/pay/jsbutton/bc-button.{version}.js"
    return ("(function(w,d){w.__beecloudButton=" + data + ";"
            "var s=d.createElement('script');s.async=true;s.src=" + json.dumps(src) + ";"
            "(d.head||d.documentElement).appendChild(s);})(window,document);\n")


@bp.get("/1/pay/jsbutton/returnscripts")
def returnscripts():
    app_id = request.args.get("appId", "")
    use_id = request.args.get("useId") or None
    merchant = get_merchant(app_id)
    config = {
        "base": base_url(),
        "appId": app_id[:64],
        "useId": use_id[:64] if use_id else None,
        # Public: which merchant pages may show the checkout in the modal.
        "frameOrigins": list(merchant.frame_origins or []) if merchant else [],
        "problem": None if merchant else "appId is not a known app",
    }
    version = button_version()
    body = _loader(config, version)
    response = make_response(body)
    response.mimetype = "application/javascript"
    response.set_etag(hashlib.sha256(body.encode("utf-8")).hexdigest()[:32])
    response.headers["Cache-Control"] = f"public, max-age={LOADER_MAX_AGE}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@bp.get("/1/pay/jsbutton/bc-button.<version>.js")
def button_script(version):
    if version != button_version():
        # An old page asking for an old release gets the current one, uncached.
        response = send_file(_button_file(), mimetype="application/javascript", max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
    response = send_file(_button_file(), mimetype="application/javascript",
                         max_age=BUTTON_MAX_AGE)
    response.headers["Cache-Control"] = f"public, max-age={BUTTON_MAX_AGE}, immutable"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
