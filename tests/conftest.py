"""Shared fixtures: an app on a fresh database per test, a test client, a
real HTTP server in a thread, and headless Chromium through Playwright.

The database is SQLite unless ``CHECKOUT_TEST_DATABASE_URL`` names a
PostgreSQL server (``.ci/run`` runs the suite both ways); on PostgreSQL a
database of its own is created for the test session and dropped after it.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from checkout import create_app
from checkout.db import db
from checkout.cli.db import upgrade

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
PG_URL = os.environ.get("CHECKOUT_TEST_DATABASE_URL", "")


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium")
    config.addinivalue_line("markers", "postgresql: needs PostgreSQL (skipped on SQLite)")


def pytest_collection_modifyitems(config, items):
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs CHECKOUT_TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if "postgresql" in item.keywords:
            item.add_marker(skip)


# --- databases -------------------------------------------------------------

def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) \
        if url.startswith("postgresql://") else url


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """A migrated database: a SQLite file to copy, or a PostgreSQL database."""
    if PG_URL:
        admin = create_engine(_pg_admin_url(PG_URL), isolation_level="AUTOCOMMIT")
        name = f"checkout_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = _pg_admin_url(PG_URL).rsplit("/", 1)[0] + "/" + name
        upgrade(url)
        yield {"kind": "postgresql", "url": url}
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        upgrade(f"sqlite:///{path}")
        yield {"kind": "sqlite", "path": path}


@pytest.fixture
def database_url(database_template, tmp_path):
    if database_template["kind"] == "sqlite":
        target = tmp_path / "checkout.sqlite3"
        shutil.copy(database_template["path"], target)
        yield f"sqlite:///{target}"
    else:
        url = database_template["url"]
        yield url
        engine = create_engine(url)
        with engine.begin() as conn:
            tables = [row[0] for row in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"))]
            if tables:
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                                  + " RESTART IDENTITY CASCADE"))
        engine.dispose()


@pytest.fixture
def app_config(database_url, tmp_path):
    """Settings for the app under test; tests may add to this dict before ``app`` is built."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "GATEWAY": "embedded",
        "DEMO": True,
        "SIMULATORS": True,
    }


@pytest.fixture
def app(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(app_config)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- small factories ---------------------------------------------------------

@pytest.fixture
def make_merchant(app):
    from checkout import merchants

    def make(name="Test Shop", channels=None, **kwargs):
        kwargs.setdefault("return_hosts", ["shop.example.com", "127.0.0.1", "localhost"])
        kwargs.setdefault("webhook_url", "http://127.0.0.1:9/webhook")
        return merchants.create_merchant(
            name, channels=channels if channels is not None else
            ["ALI_WEB", "ALI_QRCODE", "WX_NATIVE", "UN_WEB", "JD_WEB",
             "ALI_WAP", "WX_WAP", "UN_WAP", "JD_WAP", "WX_JSAPI"], **kwargs)

    return make


@pytest.fixture
def make_live_merchant(make_merchant):
    """``make_live_merchant(**kwargs)``: a merchant in live mode whose Alipay
    credentials (支付要素) point at the built-in Alipay simulator: its live
    bills go through the real Alipay connector (issue 14). Server-to-server
    calls (precreate, query, refund …) need the ``simulator_server``."""
    from checkout import credentials, merchants

    def make(name="Live Shop", **kwargs):
        merchant = make_merchant(name, **kwargs)
        credentials.save(merchant, "alipay", credentials.simulator_values(merchant.app_id))
        return merchants.update_merchant(merchant, checkout_mode="live")

    return make


@pytest.fixture
def simulator_server(app, live_server):
    """The app on a real port and named by ``PUBLIC_URL``, so a connector
    reaches the built-in simulators over HTTP and they reach our notify URL."""
    app.config["PUBLIC_URL"] = live_server.url
    yield live_server
    app.config["PUBLIC_URL"] = ""


@pytest.fixture
def give_coupon():
    """``give_coupon(merchant, "alice", discount="5", now_ms=…)``: a coupon
    template and one coupon of it issued to that buyer (real clock by default)."""
    from checkout.models import CouponTemplate
    from checkout.sandbox import coupons

    def make(merchant, user_id="alice", *, now_ms=None, **fields):
        fields.setdefault("name", f"{fields.get('discount', '10')} off")
        fields.setdefault("type", CouponTemplate.AMOUNT_OFF)
        fields.setdefault("discount", "10")
        at = {} if now_ms is None else {"now_ms": now_ms}
        template = coupons.create_template(merchant, **fields, **at)
        return coupons.issue_coupon(merchant, template.id, user_id, **at)

    return make


@pytest.fixture
def button_order():
    """``button_order(merchant, **fields)``: the BC.click fields of an order,
    signed as a merchant's server signs them (seed 003 line 383)."""
    from checkout import signing

    counter = iter(range(1, 10 ** 6))

    def make(merchant, *, sign=None, **fields):
        fields.setdefault("title", "Oolong tea")
        fields.setdefault("amount", "199")
        fields.setdefault("out_trade_no", f"order{uuid.uuid4().hex[:12]}{next(counter)}")
        order = {"appId": merchant.app_id, **fields}
        order["sign"] = sign if sign is not None else signing.button_sign(
            merchant.app_id, str(fields["title"]), int(fields["amount"]),
            str(fields["out_trade_no"]), merchant.app_secret)
        return order

    return make


def run_racing(app, count, work):
    """Run ``work(i)`` in ``count`` threads released together, each in its own
    app context and database session; return the results in order."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                results[i] = work(i)
                db.session.remove()
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.fixture
def race(app):
    """``race(count, work)``: ``work(i)`` in ``count`` racing threads (see ``run_racing``)."""
    return lambda count, work: run_racing(app, count, work)


# --- a real HTTP server --------------------------------------------------------

class LiveServer:
    def __init__(self, app, host="127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """The app served on a free port of 127.0.0.1, in a thread."""
    app.config["PUBLIC_URL"] = ""
    server = LiveServer(app).start()
    yield server
    server.stop()


class MerchantSite:
    """A merchant's web site on another origin (``http://localhost:PORT``,
    another site than the checkout's ``127.0.0.1``): serves one page."""

    def __init__(self):
        self.page = "<p>empty</p>"
        site = self

        @Request.application
        def app(request):
            return Response(site.page, mimetype="text/html")

        self.live = LiveServer(app).start()
        self.origin = f"http://localhost:{self.live.server.server_port}"

    def stop(self):
        self.live.stop()


class WebhookReceiver:
    """A merchant's webhook endpoint on a real port: records every request and
    answers ``reply`` (a body, or a (status, body) pair; seed 003 wants
    ``success``)."""

    def __init__(self, reply="success"):
        self.reply = reply
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.live = LiveServer(self.wsgi).start()
        self.server = self.live.server  # tests may swap ``server.app``
        self.url = f"{self.live.url}/hook"

    @Request.application
    def wsgi(self, request):
        with self.lock:
            self.received.append({"body": request.get_data(as_text=True),
                                  "content_type": request.content_type,
                                  "method": request.method})
        status, body = self.reply if isinstance(self.reply, tuple) else (200, self.reply)
        return Response(body, status=status)

    @property
    def bodies(self) -> list[str]:
        return [request["body"] for request in self.received]

    def stop(self):
        self.live.stop()


@pytest.fixture
def receiver():
    """The merchant's webhook endpoint (``WebhookReceiver``)."""
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def shop():
    """A merchant's web site on another origin than the checkout."""
    site = MerchantSite()
    yield site
    site.stop()


# --- headless Chromium -----------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the session (two sync drivers cannot coexist)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def cookieless_browser(playwright):
    """Chromium that refuses third-party cookies (Chrome's third-party cookie
    phase-out switch), as Safari and Firefox do by default."""
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS + ["--test-third-party-cookie-phaseout"])
    yield chromium
    chromium.close()


@pytest.fixture
def new_page(browser):
    """``new_page(**context_options)``: a page in a fresh browser context,
    desktop-sized (1280x800) and zh-CN unless told otherwise."""
    yield from _page_opener(browser)


@pytest.fixture
def new_cookieless_page(cookieless_browser):
    """``new_page``'s pages in a browser that refuses third-party cookies."""
    yield from _page_opener(cookieless_browser)


def _page_opener(browser):
    contexts = []

    def open_(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        options.setdefault("locale", "zh-CN")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A desktop-sized page (1280x800)."""
    return new_page()


@pytest.fixture
def phone_page(new_page):
    """A phone-sized page with a mobile Safari user agent."""
    return new_page(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=2,
        user_agent=("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"))


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "name")`` saves test-artifacts/screenshots/<test>-<name>.png."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(pg, name="page"):
        path = folder / f"{request.node.name}-{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take


# --- accessibility (axe-core, shipped inside axe-playwright-python) ---------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe_violations():
    """``axe_violations(page)``: axe-core's WCAG 2.1 A/AA violations on the page
    as it is now, one readable line each (``[]`` when it passes). axe-core is
    the npm package pinned in package.json (``bin/test`` installs it into
    node_modules/); axe-playwright-python only injects and runs it."""
    from axe_playwright_python.sync_playwright import Axe

    script = ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        pytest.fail("axe-core is missing: run `npm ci` (bin/test does) to install package.json's")
    axe = Axe(axe_script=script.read_text(encoding="utf-8"))

    def run(pg):
        results = axe.run(pg, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                       "resultTypes": ["violations"]})
        return [f"{item['id']} ({item['impact']}): "
                + "; ".join(node["target"][0] if isinstance(node["target"][0], str)
                            else str(node["target"]) for node in item["nodes"][:5])
                for item in results.response["violations"]]

    return run


# --- shared by the round-trip tests (and free for any REST or cashier test) -------------

@pytest.fixture
def app_signed():
    """``app_signed(merchant, secret=None, **fields)``: a BeeCloud REST
    request's fields with ``app_id``, ``timestamp`` (now) and ``app_sign =
    md5(app_id + timestamp + secret)`` (seed 001), the app secret unless told
    (``merchant.test_secret`` for ``/2/rest/sandbox/…``)."""
    from checkout import signing
    from checkout.clock import now_ms

    def sign(merchant, secret=None, **fields):
        timestamp = now_ms()
        key = merchant.app_secret if secret is None else secret
        return {"app_id": merchant.app_id, "timestamp": timestamp,
                "app_sign": signing.app_sign(merchant.app_id, timestamp, key), **fields}

    return sign


@pytest.fixture
def press_cashier(client):
    """``press_cashier(bill, "pay"|"fail"|"cancel")``: the shopper presses a
    button of the bill's sandbox cashier (``/sandbox/cashier/<token>``): the
    page is loaded for its CSRF token, then the form is posted."""
    import re

    def press(bill, action="pay"):
        path = f"/sandbox/cashier/{bill.cashier_token}"
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return client.post(f"{path}/{action}", data={"csrf_token": token})

    return press


# --- time, moved by hand -------------------------------------------------------

class ManualClock:
    """Stands in for ``checkout.clock.now_ms``: answers ``now`` (ms) until moved."""

    def __init__(self, now: int):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> ManualClock:
    """``checkout.clock.now_ms`` and every checkout module's imported copy of
    it, replaced by a clock the test moves (``clock.now = …``), starting now.
    A live server's thread sees it too; nothing is ever waited for."""
    import sys

    from checkout import clock as clock_module

    real = clock_module.now_ms
    fake = ManualClock(real())
    monkeypatch.setattr(clock_module, "now_ms", fake)
    for name, module in list(sys.modules.items()):
        if name.startswith("checkout."):
            for attribute, value in list(vars(module).items()):
                if value is real:
                    monkeypatch.setattr(module, attribute, fake)
    return fake


@pytest.fixture
def pay_at_alipay(client):
    """``pay_at_alipay(answer)``: the shopper follows a live Alipay bill's
    hand-off ``url`` (the REST answer of ALI_WEB / ALI_WAP / ALI_QRCODE) to the
    Alipay simulator and pays there; our query to Alipay learns it (needs the
    ``simulator_server``). Answers the paid ``Bill``."""
    from urllib.parse import urlsplit

    from checkout.clock import now_ms
    from checkout.db import db
    from checkout.models import Bill
    from checkout.sandbox import live_channels
    from checkout.simulators.alipay import trades
    from checkout.simulators.alipay.models import SimTrade

    def pay(answer: dict) -> Bill:
        assert answer["result_code"] == 0, answer
        bill = db.session.get(Bill, answer["id"])
        handoff = urlsplit(answer["url"])
        assert client.get(f"{handoff.path}?{handoff.query}").status_code == 303
        trade = db.session.execute(db.select(SimTrade).where(
            SimTrade.out_trade_no == bill.provider_ref)).scalar_one()
        trades.open_trade(trade, now_ms())
        assert trades.pay(trade, now_ms())
        live_channels.refresh(bill)
        db.session.refresh(bill)
        assert bill.status == Bill.PAID
        return bill

    return pay
