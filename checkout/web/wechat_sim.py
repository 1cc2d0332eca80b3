"""The simulated WeChat of the embedded sandbox (``checkout.sandbox.wechat_oauth``):

    GET  /sandbox/wechat/connect/oauth2/authorize   WeChat's authorize page (SANDBOX)
    POST /sandbox/wechat/connect/oauth2/authorize   Allow / Refuse (CSRF-protected form)
    GET  /sandbox/wechat/sns/oauth2/access_token    the token call, WeChat's JSON shapes

Allow sends the browser to ``redirect_uri?code=…&state=…``; Refuse sends it
back with only ``state``, as WeChat does when a user refuses consent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, jsonify, redirect, render_template, request

from ..links import base_url
from ..sandbox import wechat_oauth
from ..wechat import SIMULATED_ACCOUNT

bp = Blueprint("wechat_sim", __name__)
# Served here, the simulated WeChat tells the OAuth client its accounts
# (``checkout.wechat`` does not import the sandbox).
bp.record_once(lambda state: state.app.extensions.setdefault(
    SIMULATED_ACCOUNT, wechat_oauth.sandbox_account))

PREFIX = "/sandbox/wechat"


def _allowed_hosts() -> set[str]:
    return {request.host.lower(), urlsplit(base_url()).netloc.lower()}


def _params(source) -> dict:
    return {name: source.get(name) for name in
            ("appid", "redirect_uri", "response_type", "scope", "state")}


def _checked(params: dict):
    try:
        wechat_oauth.check_authorize(params["appid"], params["redirect_uri"],
                                     params["response_type"], params["scope"], _allowed_hosts())
    except wechat_oauth.AuthorizeRefused as refused:
        return render_template("sandbox/wechat_error.html", message=str(refused)), 400
    return None


@bp.get(f"{PREFIX}/connect/oauth2/authorize")
def authorize():
    params = _params(request.args)
    problem = _checked(params)
    if problem is not None:
        return problem
    return render_template("sandbox/wechat_authorize.html", params=params,
                           user=wechat_oauth.DEFAULT_USER)


@bp.post(f"{PREFIX}/connect/oauth2/authorize")
def decide():
    params = _params(request.form)
    problem = _checked(params)
    if problem is not None:
        return problem
    state = params["state"] or ""
    if request.form.get("decision") != "allow":
        return redirect(wechat_oauth.back_to(params["redirect_uri"], state, None), 302)
    user = (request.form.get("user") or wechat_oauth.DEFAULT_USER).strip()[:64] \
        or wechat_oauth.DEFAULT_USER
    code = wechat_oauth.issue_code(params["appid"], params["scope"], user)
    return redirect(wechat_oauth.back_to(params["redirect_uri"], state, code), 302)


@bp.get(f"{PREFIX}/sns/oauth2/access_token")
def access_token():
    args = request.args
    try:
        answer = wechat_oauth.exchange(args.get("appid"), args.get("secret"), args.get("code"),
                                       args.get("grant_type"))
    except wechat_oauth.TokenError as error:
        answer = error.answer()
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
