"""The web layer: extensions, blueprints, security headers and error
pages. Blueprints are thin: parse the request, call one domain
function, render one template."""

from __future__ import annotations

import importlib

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFProtect

from .. import card_attempts, i18n
from . import boundary

csrf = CSRFProtect()

# Modules that expose a Flask blueprint as ``bp``. Each helper module adds itself here.
BLUEPRINTS = [
    "checkout.web.home",
    "checkout.web.coupon_api",
    "checkout.web.rest_api",
    "checkout.web.refund_queries_api",
    "checkout.web.refund_api",
    "checkout.web.international_api",
    "checkout.web.paypal_sim",
    "checkout.web.paypal_checkout",
    "checkout.web.sandbox_cashier",
    "checkout.web.demo",
    "checkout.web.pay",
    "checkout.web.wechat_sim",
    "checkout.web.button",
    "checkout.web.channel_notify",
]

# Path prefixes answered as JSON APIs (BeeCloud result codes), not HTML pages.
API_PREFIXES = ("/1/rest/", "/2/rest/")


def init_app(app: Flask) -> None:
    from . import brand_marks, kept_urls, static_files

    boundary.init_app(app)  # first: nothing else reads the request before it is checked
    csrf.init_app(app)
    i18n.init_app(app)
    card_attempts.init_app(app)  # failed-card limits on a shared storage
    static_files.init_app(app)
    # Template globals of base.html and the pages built on it, so of every page.
    kept_urls.init_app(app)
    brand_marks.init_app(app)
    for path in BLUEPRINTS:
        module = importlib.import_module(path)
        app.register_blueprint(module.bp)
        if getattr(module, "CSRF_EXEMPT", False):
            csrf.exempt(module.bp)
    app.after_request(security_headers)
    _register_error_pages(app)


DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' https: http:; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)


SAFE_HEADERS = (("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "strict-origin-when-cross-origin"))


def security_headers(response):
    """Safe defaults for every response. A view that may be framed by a
    merchant sets its own Content-Security-Policy (with its frame-ancestors)."""
    headers = response.headers
    # One pass over the few headers set (Werkzeug's ``in`` raises and catches
    # a KeyError for every absent name).
    present = {name.lower() for name, _value in headers}
    for name, value in SAFE_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if "content-security-policy" not in present and response.mimetype == "text/html":
        headers.add("Content-Security-Policy", DEFAULT_CSP)
    return response


def wants_json() -> bool:
    return request.path.startswith(API_PREFIXES) or request.accept_mimetypes.best == "application/json"


def _register_error_pages(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith(API_PREFIXES):
            return boundary.api_answer(error)
        if wants_json():
            return jsonify(ERROR=error.description or error.name), error.code
        return render_template("errors/http.html", error=error), error.code

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith(API_PREFIXES):
            return jsonify(result_code=14, result_msg="RUNTIME_ERROR",
                           err_detail="internal error; nothing was charged"), 200
        if wants_json():
            return jsonify(ERROR="internal error"), 500
        return render_template("errors/http.html", error=None), 500
