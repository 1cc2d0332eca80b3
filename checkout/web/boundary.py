"""The input boundary for every request (issue 12; rules in ``checkout.inputs``).

Before any view runs, the query string, a form body, the path's parts and
the headers we read are checked against the text rules; JSON bodies are read
through ``json_body`` and ``para=`` through ``checkout.inputs.parse_json`` by
their views. A refusal names the field and answers in the caller's terms:

- the BeeCloud REST paths: HTTP 200, result code 5 ``PARAM_INVALID`` and
  ``err_detail`` (seed 001, "公共返回参数");
- JSON callers (the button's ``POST /pay``, ``/pay/jsapi``): 400 ``{"ERROR": …}``
  (seed 003's ``BC.err`` shape);
- pages: a 400 page in the shopper's language. A blueprint may register its
  own ``BadInput`` handler to show its refusal page instead (``pay``).

A path part that is not clean text names nothing that can exist, so it is
simply not found (404, or the REST API's not-found code).
"""

from __future__ import annotations

import re

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import BadRequest, NotFound

from ..inputs import MAX_VALUE_CHARS, BadInput, check_text, is_clean, parse_json, shown_name

# Request headers some view or extension reads, with their WSGI environ keys
# (read from the environ directly: this runs on every request).
READ_HEADERS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in
                     ("User-Agent", "Accept-Language", "Origin", "Referer", "Sec-Fetch-Dest")) \
    + (("Content-Type", "CONTENT_TYPE"),)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A query string of printable ASCII without percent-escapes cannot decode to
# anything the rules refuse; only other ones are parsed here to be checked.
PLAIN_QUERY = re.compile(rb"[\x21-\x24\x26-\x7e]*")


def init_app(app: Flask) -> None:
    app.before_request(check_request)
    app.register_error_handler(BadInput, refused)


def check_request() -> None:
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and not is_clean(value):
            raise NotFound()
    environ = request.environ
    for name, key in READ_HEADERS:
        value = environ.get(key)
        if value and (len(value) > MAX_VALUE_CHARS or not is_clean(value)):
            check_text(value, f"the {name} header", max_chars=MAX_VALUE_CHARS)
    query = environ.get("QUERY_STRING", "").encode("latin-1")
    if len(query) > MAX_VALUE_CHARS or not PLAIN_QUERY.fullmatch(query):
        check_pairs(request.args.items(multi=True), "the query parameter ")
    if environ.get("CONTENT_TYPE", "").startswith(FORM_TYPES):
        check_pairs(request.form.items(multi=True), "the form field ")
    if "lang=" in environ.get("HTTP_COOKIE", ""):
        lang = request.cookies.get("lang")
        if lang is not None:
            check_text(lang, "the lang cookie", max_chars=16)


def check_pairs(pairs, what: str) -> None:
    for key, value in pairs:
        check_text(key, what + key, max_chars=256)
        check_text(value, key, max_chars=MAX_VALUE_CHARS)


def json_body(what: str = "the request body") -> object:
    """The request's JSON body under the boundary's rules (its size is capped
    by ``MAX_CONTENT_LENGTH``: a bigger one is a 413 before this is read)."""
    return parse_json(request.get_data(cache=False), what)


# What a path the REST API cannot find answers, per blueprint: the documented
# not-found code of what the path names (seed 001: 8 NO_SUCH_BILL; the coupon
# views answer 5 for an unknown coupon, checkout.web.coupon_api).
API_NOT_FOUND = {
    "rest_api": (8, "NO_SUCH_BILL", "no such bill for this app"),
    "coupon_api": (5, "PARAM_INVALID", "no such coupon or coupon template for this app"),
    "refund_queries_api": (13, "NO_SUCH_REFUND", "no such refund for this app"),
}


def api_answer(error):
    """A werkzeug ``HTTPException`` on a REST path as BeeCloud answers it
    (HTTP 200): the caller's mistakes (4xx) are 5 ``PARAM_INVALID`` (or the
    path's not-found code), never 14 ``RUNTIME_ERROR``, which is ours."""
    if error.code == 404 and request.blueprint in API_NOT_FOUND:
        code, msg, detail = API_NOT_FOUND[request.blueprint]
    elif 400 <= (error.code or 500) < 500:
        code, msg = 5, "PARAM_INVALID"
        detail = {404: f"no API at {request.method} {shown_name(request.path)}",
                  405: f"{request.path} does not answer {request.method}"}.get(
            error.code, error.description or error.name)
    else:
        code, msg, detail = 14, "RUNTIME_ERROR", "internal error; nothing was charged"
    return jsonify(result_code=code, result_msg=msg, err_detail=detail), 200


def refused(error: BadInput):
    from . import API_PREFIXES, wants_json

    if request.path.startswith(API_PREFIXES):
        # Seed 001: every answer is HTTP 200 with a result code.
        return jsonify(result_code=5, result_msg="PARAM_INVALID", err_detail=error.message), 200
    if wants_json() or request.is_json:
        return jsonify(ERROR=error.message), 400
    return render_template("errors/http.html", error=BadRequest(), field=error.field), 400
