"""The BeeCloud REST API for reading refunds (seed 001 §7-§10), signed with
the app secret; the test-mode twins under ``/2/rest/sandbox/`` sign with the
test secret, as the bill queries do (seeds/README.md).

    GET /2/rest/refunds?para=…         query refunds   (+ /2/rest/sandbox/refunds)
    GET /2/rest/refunds/count?para=…   count refunds   (+ /2/rest/sandbox/refunds/count)
    GET /2/rest/refund/status?para=…   a WX/YEE/KUAIQIAN/BD refund's status (+ sandbox)
    GET /2/rest/refund/{id}?para=…     one refund      (+ /2/rest/sandbox/refund/{id})

Creating and approving refunds (POST/PUT /2/rest/refund) is
``checkout.web.refund_api``'s. Views are thin: ``read_para``, authenticate,
call ``checkout.sandbox.refund_queries``.
"""

from __future__ import annotations

from flask import Blueprint

from ..sandbox import refund_queries
from .rest_api import read_para, serve

bp = Blueprint("refund_queries_api", __name__)
CSRF_EXEMPT = True  # machine-to-machine, authenticated by app_sign


def _answer(work, test_mode: bool):
    return serve(read_para, lambda merchant, fields: work(merchant, fields, test_mode=test_mode),
                 secret="test" if test_mode else "app")


@bp.get("/2/rest/refunds")
def query_refunds():
    return _answer(refund_queries.query_refunds, False)


@bp.get("/2/rest/sandbox/refunds")
def query_test_refunds():
    return _answer(refund_queries.query_refunds, True)


@bp.get("/2/rest/refunds/count")
def count_refunds():
    return _answer(refund_queries.count_refunds, False)


@bp.get("/2/rest/sandbox/refunds/count")
def count_test_refunds():
    return _answer(refund_queries.count_refunds, True)


@bp.get("/2/rest/refund/status")
def refund_status():
    return _answer(refund_queries.refund_status, False)


@bp.get("/2/rest/sandbox/refund/status")
def test_refund_status():
    return _answer(refund_queries.refund_status, True)


def _one(refund_id: str, test_mode: bool):
    return _answer(lambda merchant, _fields, test_mode:
                   refund_queries.get_refund(merchant, refund_id, test_mode=test_mode),
                   test_mode)


@bp.get("/2/rest/refund/<refund_id>")
def refund_by_id(refund_id):
    return _one(refund_id, False)


@bp.get("/2/rest/sandbox/refund/<refund_id>")
def test_refund_by_id(refund_id):
    return _one(refund_id, True)
