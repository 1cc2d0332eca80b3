"""The drop-in 秒支付 button script (seed 003 lines 325-391):

    GET /1/pay/jsbutton/returnscripts?appId=…[&useId=…]   the merchant's <script> tag
    GET /1/pay/jsbutton/bc-button.<version>.js           the button itself, immutable

Versioning: the script tag's URL never changes on a merchant's page, so it
answers a tiny loader (``Cache-Control: max-age=300`` and an ETag) holding
this app's base URL, the appId, the useId and the merchant's public frame
origins, which loads the button under a URL naming its content hash. A new
release changes the hash, so every page picks it up within five minutes,
while the button itself is cached for a year. The button is served minified
(calmjs.parse, names shortened; ``static/js/bc-button.js`` stays the readable
source), once per worker and release. An unknown appId still gets a
loader: ``BC.click`` then reports the problem through ``dataError`` /
``BC.err`` (a 404 would leave the merchant's page with no ``BC`` at all).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, current_app, make_response, request

from ..merchants import get_merchant
from ..links import base_url
from .static_files import ONE_YEAR

bp = Blueprint("button", __name__)

LOADER_MAX_AGE = 300
BUTTON_MAX_AGE = ONE_YEAR


def _button_file() -> Path:
    return Path(current_app.static_folder) / "js" / "bc-button.js"


@dataclass(frozen=True)
class ButtonRelease:
    script: bytes  # minified
    version: str   # of the minified script, so a new minifier is a new release too


@lru_cache(maxsize=4)
def _release_of(path: str, mtime: float) -> ButtonRelease:
    from calmjs.parse import es5
    from calmjs.parse.unparsers.es5 import minify_print

    source = Path(path).read_text(encoding="utf-8")
    # Globals (window, document, BC …) keep their names; locals are shortened.
    script = minify_print(es5(source), obfuscate=True, obfuscate_globals=False).encode("utf-8")
    return ButtonRelease(script=script, version=hashlib.sha256(script).hexdigest()[:16])


def button_release() -> ButtonRelease:
    path = _button_file()
    return _release_of(str(path), path.stat().st_mtime)


def button_version() -> str:
    return button_release().version


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
    release = button_release()
    response = make_response(release.script)
    response.mimetype = "application/javascript"
    response.set_etag(release.version)
    response.headers["Access-Control-Allow-Origin"] = "*"
    if version != release.version:
        # An old page asking for an old release gets the current one, uncached.
        response.headers["Cache-Control"] = "no-cache"
    else:
        response.headers["Cache-Control"] = f"public, max-age={BUTTON_MAX_AGE}, immutable"
    return response.make_conditional(request)
