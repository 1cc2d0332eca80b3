"""WeChat web OAuth for WX_JSAPI's openid (issue 4 item 1): the client
(``checkout.wechat``), the simulated WeChat (``/sandbox/wechat/…``) with
WeChat's JSON shapes, and the checkout's round trip — over real HTTP."""

from __future__ import annotations

import logging
import re
import socket
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from checkout import wechat
from checkout.db import db
from checkout.models import CheckoutOrder
from checkout.sandbox import wechat_oauth
from checkout.sandbox.channel_answers import sandbox_wechat_appid

WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI")
CALLBACK = "http://localhost/pay/x/wechat/callback"


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def sim(app, live_server):
    """The simulated WeChat on a real port: links point at it."""
    app.config["PUBLIC_URL"] = live_server.url
    return live_server


def authorize(client, **params):
    query = {"appid": "wx0123456789abcdef", "redirect_uri": CALLBACK, "response_type": "code",
             "scope": "snsapi_base", "state": "s1", **params}
    return client.get("/sandbox/wechat/connect/oauth2/authorize", query_string=query)


def allow(client, decision="allow", **params):
    page = authorize(client, **params)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"appid": "wx0123456789abcdef", "redirect_uri": CALLBACK, "response_type": "code",
            "scope": "snsapi_base", "state": "s1", "csrf_token": token, "decision": decision,
            **params}
    return client.post("/sandbox/wechat/connect/oauth2/authorize", data=form)


def code_of(response) -> str | None:
    return parse_qs(urlsplit(response.headers["Location"]).query).get("code", [None])[0]


def token(client, **params):
    appid = params.pop("appid", "wx0123456789abcdef")
    query = {"appid": appid, "secret": wechat_oauth.sandbox_secret(appid),
             "grant_type": "authorization_code", **params}
    return client.get("/sandbox/wechat/sns/oauth2/access_token", query_string=query).get_json()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- state ------------------------------------------------------------------------------------

def test_a_state_is_accepted_for_its_own_order(app):
    assert wechat.check_state(wechat.make_state("order-1"), "order-1")


def test_a_state_for_another_order_is_refused(app):
    assert not wechat.check_state(wechat.make_state("order-1"), "order-2")


def test_a_tampered_state_is_refused(app):
    state = wechat.make_state("order-1")
    assert not wechat.check_state(state[:-2] + ("AA" if state[-2:] != "AA" else "BB"), "order-1")


def test_an_old_state_is_refused(app, monkeypatch):
    state = wechat.make_state("order-1")
    later = time.time() + wechat.STATE_MAX_AGE_SECONDS + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert not wechat.check_state(state, "order-1")


def test_the_authorize_url_has_wechats_shape(app):
    with app.test_request_context():
        url = wechat.authorize_url("wx0123456789abcdef", "https://pay.example.com/cb?x=1", "st")
    assert url.startswith("http://localhost/sandbox/wechat/connect/oauth2/authorize?appid="
                          "wx0123456789abcdef&redirect_uri=https%3A%2F%2Fpay.example.com%2Fcb"
                          "%3Fx%3D1&response_type=code&scope=snsapi_base&state=st")
    assert url.endswith("#wechat_redirect")


def test_configured_wechat_hosts_need_the_merchants_own_account(app, merchant):
    app.config["WECHAT_OPEN_URL"] = "https://open.weixin.qq.com"
    app.config["WECHAT_API_URL"] = "https://api.weixin.qq.com"
    with pytest.raises(wechat.OAuthUnavailable):
        wechat.oauth_credentials(merchant)
    merchant.wechat_appid, merchant.wechat_secret = "wx1111222233334444", "s3cret"
    assert wechat.oauth_credentials(merchant) == ("wx1111222233334444", "s3cret")


def test_the_simulated_wechat_account_is_the_one_its_wx_jsapi_answers_carry(app, merchant):
    appid, secret = wechat.oauth_credentials(merchant)
    assert appid == sandbox_wechat_appid(merchant)
    assert secret == wechat_oauth.sandbox_secret(appid)


def test_without_a_simulated_wechat_served_the_sandbox_hosts_give_no_account(app, merchant):
    del app.extensions[wechat.SIMULATED_ACCOUNT]
    with pytest.raises(wechat.OAuthUnavailable):
        wechat.oauth_credentials(merchant)


def test_the_oauth_client_does_not_import_the_sandbox():
    """A production module must not depend on a simulator (architecture.md,
    "Channels: connectors and simulators")."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(wechat))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [name for name in imported if "sandbox" in name or "simulators" in name]


# --- the simulated WeChat ------------------------------------------------------------------------

def test_the_authorize_page_is_a_sandbox_page_with_allow_and_refuse(client):
    page = authorize(client)
    assert page.status_code == 200
    assert b'data-testid="sandbox-ribbon"' in page.data and b"wechat-allow" in page.data


@pytest.mark.parametrize("params", [{"appid": "nope"}, {"response_type": "token"},
                                    {"scope": "snsapi_all"},
                                    {"redirect_uri": "https://evil.example.net/cb"},
                                    {"redirect_uri": "javascript:alert(1)"}])
def test_a_bad_authorize_request_gets_wechats_error_page(client, params):
    page = authorize(client, **params)
    assert page.status_code == 400 and b'data-testid="wechat-error"' in page.data


def test_allowing_sends_a_code_and_the_state_back(client):
    response = allow(client)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(CALLBACK + "?code=")
    assert parse_qs(urlsplit(response.headers["Location"]).query)["state"] == ["s1"]


def test_refusing_sends_only_the_state_back(client):
    response = allow(client, decision="refuse")
    assert response.headers["Location"] == CALLBACK + "?state=s1"


def test_the_authorize_form_needs_its_csrf_token(client):
    response = client.post("/sandbox/wechat/connect/oauth2/authorize",
                           data={"appid": "wx0123456789abcdef", "redirect_uri": CALLBACK,
                                 "response_type": "code", "scope": "snsapi_base",
                                 "decision": "allow"})
    assert response.status_code == 400


def test_a_code_gives_the_openid_in_wechats_shape(client):
    answer = token(client, code=code_of(allow(client)))
    assert set(answer) == {"access_token", "expires_in", "refresh_token", "openid", "scope"}
    assert answer["expires_in"] == 7200 and answer["scope"] == "snsapi_base"
    assert re.fullmatch(r"o[\w-]{27}", answer["openid"])


def test_the_same_user_gets_the_same_openid_and_another_user_another(client):
    first = token(client, code=code_of(allow(client)))["openid"]
    again = token(client, code=code_of(allow(client)))["openid"]
    other = token(client, code=code_of(allow(client, user="someone-else")))["openid"]
    assert first == again != other


def test_a_code_is_single_use(client):
    code = code_of(allow(client))
    token(client, code=code)
    assert token(client, code=code) == {"errcode": 40163, "errmsg": "code been used"}


def test_a_code_expires_after_five_minutes(client, app):
    code = wechat_oauth.issue_code("wx0123456789abcdef", "snsapi_base",
                                   now_ms=int(time.time() * 1000) - 5 * 60 * 1000 - 1)
    assert token(client, code=code)["errcode"] == 40029


@pytest.mark.parametrize("params,errcode", [
    ({"appid": ""}, 41002), ({"appid": "bad"}, 40013), ({"secret": ""}, 41004),
    ({"secret": "0" * 32}, 40125), ({"code": ""}, 41008), ({"code": "nope"}, 40029),
    ({"code": "x", "grant_type": "password"}, 40002),
])
def test_token_errors_have_wechats_codes(client, params, errcode):
    answer = token(client, **params)
    assert answer["errcode"] == errcode and answer["errmsg"]


def test_a_code_of_another_appid_is_invalid(client):
    code = code_of(allow(client))
    assert token(client, appid="wxffffffffffffffff", code=code)["errcode"] == 40029


# --- the client over real HTTP ----------------------------------------------------------------

def test_exchange_code_reads_the_openid_over_http(app, sim, client):
    code = code_of(allow(client))
    appid = "wx0123456789abcdef"
    assert wechat.exchange_code(appid, wechat_oauth.sandbox_secret(appid), code).startswith("o")


@pytest.mark.parametrize("code", ["nope"])
def test_a_bad_code_is_bad_code(app, sim, code):
    appid = "wx0123456789abcdef"
    with pytest.raises(wechat.OAuthFailed) as failed:
        wechat.exchange_code(appid, wechat_oauth.sandbox_secret(appid), code)
    assert failed.value.reason == "bad_code" and failed.value.errcode == 40029


def test_a_wechat_error_is_wechat_error(app, sim, client):
    code = code_of(allow(client))
    with pytest.raises(wechat.OAuthFailed) as failed:
        wechat.exchange_code("wx0123456789abcdef", "wrong-secret", code)
    assert failed.value.reason == "wechat_error" and failed.value.errcode == 40125


def test_an_answer_that_is_not_json_is_wechat_error(app, sim):
    app.config["WECHAT_API_URL"] = sim.url + "/healthz-not-here"
    with pytest.raises(wechat.OAuthFailed) as failed:
        wechat.exchange_code("wx0123456789abcdef", "s", "code")
    assert failed.value.reason == "wechat_error"


def test_an_unreachable_wechat_is_unreachable(app):
    app.config["WECHAT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(wechat.OAuthFailed) as failed:
        wechat.exchange_code("wx0123456789abcdef", "s3cret-value", "code", timeout=1.0)
    assert failed.value.reason == "unreachable"
    assert "s3cret-value" not in str(failed.value)


def test_the_secret_and_code_never_reach_the_logs(app, sim, client, caplog):
    code = code_of(allow(client))
    appid = "wx0123456789abcdef"
    secret = wechat_oauth.sandbox_secret(appid)
    with caplog.at_level(logging.DEBUG):
        wechat.exchange_code(appid, secret, code)
    # Our side's log lines; the test server's own access log ("werkzeug")
    # stands in for WeChat's server, which of course sees its own query.
    ours = "\n".join(record.getMessage() for record in caplog.records
                     if record.name != "werkzeug")
    assert secret not in ours and code not in ours
    assert "secret=[redacted]" in ours


# --- the checkout's round trip --------------------------------------------------------------------

def open_wechat_order(client, merchant, button_order) -> str:
    return client.post("/pay", data=button_order(merchant),
                       headers={"User-Agent": WECHAT_UA}).headers["Location"]


def test_wechat_pay_without_openid_goes_to_wechats_authorize_page_with_a_bound_state(
        sim, merchant, button_order):
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    login = browser.get(f"{path}/channel/WX_JSAPI")
    assert login.headers["location"].endswith("/wechat/login")
    to_wechat = browser.get(login.headers["location"])
    query = parse_qs(urlsplit(to_wechat.headers["location"]).query)
    assert to_wechat.headers["location"].startswith(f"{sim.url}/sandbox/wechat/connect/oauth2/")
    assert query["appid"] == [sandbox_wechat_appid(merchant)]
    assert query["redirect_uri"] == [f"{sim.url}{path}/wechat/callback"]
    assert wechat.check_state(query["state"][0], path.rsplit("/", 1)[1])


def _round_trip(browser, path, decision="allow"):
    to_wechat = browser.get(browser.get(f"{path}/wechat/login").headers["location"])
    page = to_wechat.text
    token_value = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields.update({"csrf_token": token_value, "decision": decision})
    fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
    back = browser.post("/sandbox/wechat/connect/oauth2/authorize", data=fields)
    return browser.get(back.headers["location"])


def test_the_round_trip_keeps_the_openid_and_opens_wechat_pay(sim, merchant, button_order):
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    done = _round_trip(browser, path)
    assert done.status_code == 303 and done.headers["location"].endswith("/channel/WX_JSAPI")
    db.session.expire_all()
    order = db.session.get(CheckoutOrder, path.rsplit("/", 1)[1])
    assert order.openid and order.openid.startswith("o")
    jsapi = browser.get(done.headers["location"])
    assert jsapi.status_code == 200 and "data-jsapi=" in jsapi.text


def test_a_refused_consent_offers_paying_by_qr(sim, merchant, button_order):
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    page = _round_trip(browser, path, decision="refuse")
    assert page.status_code == 400 and 'data-testid="pay-by-qr"' in page.text


def test_a_callback_with_another_orders_state_is_refused(sim, merchant, button_order):
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    other = wechat.make_state("another-order")
    page = browser.get(f"{path}/wechat/callback", params={"code": "abc", "state": other})
    assert page.status_code == 400 and 'data-testid="wechat-problem"' in page.text


def test_a_callback_with_a_bad_code_is_a_clear_page(sim, merchant, button_order):
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    state = wechat.make_state(path.rsplit("/", 1)[1])
    page = browser.get(f"{path}/wechat/callback", params={"code": "forged", "state": state})
    assert page.status_code == 400 and 'data-testid="wechat-problem"' in page.text


def test_a_wechat_token_error_is_a_clear_page(app, sim, merchant, button_order):
    app.config["WECHAT_API_URL"] = f"http://127.0.0.1:{closed_port()}"
    browser = httpx.Client(base_url=sim.url, headers={"User-Agent": WECHAT_UA})
    path = open_wechat_order(browser, merchant, button_order)
    app.config["WECHAT_OPEN_URL"] = sim.url + "/sandbox/wechat"
    merchant.wechat_appid, merchant.wechat_secret = "wx1111222233334444", "s3cret"
    db.session.commit()
    state = wechat.make_state(path.rsplit("/", 1)[1])
    page = browser.get(f"{path}/wechat/callback", params={"code": "abc", "state": state})
    assert page.status_code == 400 and 'data-testid="wechat-problem"' in page.text
    assert "s3cret" not in page.text
