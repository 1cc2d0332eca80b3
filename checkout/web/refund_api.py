"""The BeeCloud REST API for refunds, the write side (seed 001 §3, §4; seed 000 §6).

    POST /2/rest/refund            a refund or pre-refund (app_sign: master secret)
    PUT  /2/rest/refund            approve or deny pre-refunds (master secret)
    POST /2/rest/sandbox/refund    the same two in test mode (test secret)
    PUT  /2/rest/sandbox/refund
    POST /2/rest/offline/refund    a refund of an offline bill (master secret)

The official Python SDK (beecloud 3.6.0) refuses refunds in test mode
before sending anything; in test mode it signs every other request with the
test secret, so the sandbox twins take that secret. Views are thin: read
the body, authenticate, call ``checkout.sandbox.refunds``.
"""

from __future__ import annotations

from flask import Blueprint

from ..sandbox import refunds
from .rest_api import read_body, serve

bp = Blueprint("refund_api", __name__)
CSRF_EXEMPT = True  # machine-to-machine, authenticated by app_sign


def _create(test_mode: bool):
    return serve(read_body, lambda merchant, fields:
                 refunds.create_refund(merchant, fields, test_mode=test_mode),
                 secret="test" if test_mode else "master")


def _review(test_mode: bool):
    return serve(read_body, lambda merchant, fields:
                 refunds.review_refunds(merchant, fields, test_mode=test_mode),
                 secret="test" if test_mode else "master")


@bp.post("/2/rest/refund")
def create_refund():
    return _create(False)


@bp.put("/2/rest/refund")
def review_refunds():
    return _review(False)


@bp.post("/2/rest/sandbox/refund")
def create_test_refund():
    return _create(True)


@bp.put("/2/rest/sandbox/refund")
def review_test_refunds():
    return _review(True)


@bp.post("/2/rest/offline/refund")
def offline_refund():
    return serve(read_body, lambda merchant, fields: refunds.offline_refund(merchant, fields),
                 secret="master")
