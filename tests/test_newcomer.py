"""A newcomer's first ten minutes (issue 12, deliverable 6): the CLI says what
it did and nothing else, says "migrate first" on a fresh database, the demo
follows the app to another port, the home page's links all lead somewhere,
error pages speak the shopper's language and offer a way on, a favicon."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from checkout import demo
from checkout.cli.db import alembic_config, code_heads, migrations_between

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("CHECKOUT_TEST_DATABASE_URL", "")
MIGRATE_FIRST = "run `flask --app wsgi db upgrade` first"


# --- a database without tables -----------------------------------------------------------

@pytest.fixture
def empty_database_url(tmp_path):
    """A database nothing was migrated into: a new SQLite file, or a new
    PostgreSQL database (dropped afterwards)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    admin_url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"checkout_fresh_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def flask_command(args, database_url, tmp_path, **environ):
    """``python -m flask --app wsgi ARGS`` as a newcomer types it, in a new process."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("LOG_LEVEL", "DATABASE_URL", "FLASK_APP", "PUBLIC_URL")}
    env.update(DATABASE_URL=database_url, INSTANCE_PATH=str(tmp_path / "instance"), **environ)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


# --- CLI output -------------------------------------------------------------------------

def test_db_upgrade_prints_one_line_saying_what_it_applied(empty_database_url, tmp_path):
    run = flask_command(["db", "upgrade"], empty_database_url, tmp_path)
    assert run.returncode == 0, run.stderr
    every = migrations_between((), code_heads())
    assert run.stdout == (f"Database migrated: empty → {', '.join(code_heads())} "
                          f"({every} migrations applied)\n")
    assert run.stderr == ""


def test_db_upgrade_on_a_migrated_database_says_it_is_up_to_date(empty_database_url, tmp_path):
    flask_command(["db", "upgrade"], empty_database_url, tmp_path)
    again = flask_command(["db", "upgrade"], empty_database_url, tmp_path)
    assert (again.stdout, again.stderr) == (f"Database is up to date ({', '.join(code_heads())})\n", "")


def test_db_upgrade_from_an_older_schema_counts_only_the_new_migrations(empty_database_url,
                                                                        tmp_path):
    command.upgrade(alembic_config(empty_database_url), "0001")
    run = flask_command(["db", "upgrade"], empty_database_url, tmp_path)
    assert run.stdout.startswith("Database migrated: 0001 → ")
    assert f"({migrations_between(('0001',), code_heads())} migrations applied)" in run.stdout


def test_log_level_debug_shows_the_libraries_lines_again(empty_database_url, tmp_path):
    run = flask_command(["db", "upgrade"], empty_database_url, tmp_path, LOG_LEVEL="DEBUG")
    assert "alembic.runtime.migration" in run.stderr


def test_an_unknown_log_level_is_named(empty_database_url, tmp_path):
    run = flask_command(["db", "upgrade"], empty_database_url, tmp_path, LOG_LEVEL="LOUD")
    assert run.returncode != 0 and "LOG_LEVEL must be" in run.stderr


def test_commands_print_no_library_info_lines(empty_database_url, tmp_path):
    flask_command(["db", "upgrade"], empty_database_url, tmp_path)
    run = flask_command(["merchants", "create", "Tea House", "--channels", "ALI_WEB"],
                        empty_database_url, tmp_path)
    assert run.returncode == 0 and "app_secret" in run.stdout
    assert run.stderr == ""


# --- before the first migration -------------------------------------------------------------

@pytest.fixture
def fresh_app_config(app_config, empty_database_url):
    app_config["SQLALCHEMY_DATABASE_URI"] = empty_database_url
    return app_config


@pytest.mark.parametrize("args", [["merchants", "list"],
                                  ["merchants", "create", "Tea House"],
                                  ["coupons", "list", "some-app"],
                                  ["webhooks", "work", "--once"],
                                  ["demo", "setup"]])
def test_commands_on_a_fresh_database_say_to_migrate_first(fresh_app_config, runner, args):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert result.output == ("Error: the database has no tables yet: "
                             f"{MIGRATE_FIRST}\n")


def test_commands_on_an_outdated_schema_say_to_migrate_first(fresh_app_config, app, runner):
    command.upgrade(alembic_config(fresh_app_config["SQLALCHEMY_DATABASE_URI"]), "0001")
    result = runner.invoke(args=["merchants", "list"])
    assert result.exit_code == 1
    assert "the database schema is at 0001" in result.output and MIGRATE_FIRST in result.output


def test_help_works_before_the_first_migration(fresh_app_config, runner):
    result = runner.invoke(args=["merchants", "--help"])
    assert result.exit_code == 0 and "Create and manage merchant apps." in result.output


# --- the demo follows the app to another port ----------------------------------------------

def test_demo_setup_on_another_port_moves_the_webhook_url_and_says_so(runner):
    runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:5000"])
    result = runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:5055"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "Demo merchant updated (webhook URL http://127.0.0.1:5000/demo/webhook → "
        "http://127.0.0.1:5055/demo/webhook; return hosts + 127.0.0.1:5055, localhost:5055):")
    merchant = demo.demo_merchant()
    assert merchant.webhook_url == "http://127.0.0.1:5055/demo/webhook"
    assert {"127.0.0.1:5055", "localhost:5055"} <= set(merchant.return_hosts)


def test_demo_setup_on_the_same_address_changes_nothing(runner):
    runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:5000"])
    result = runner.invoke(args=["demo", "setup", "--url", "http://127.0.0.1:5000"])
    assert result.output.splitlines()[0] == "Demo merchant already exists:"


def test_demo_configure_keeps_the_hosts_it_had(app):
    demo.configure("http://127.0.0.1:5000", ("shop.lan:5000",))
    done = demo.configure("http://127.0.0.1:5055")
    assert {"127.0.0.1:5000", "shop.lan:5000", "127.0.0.1:5055"} <= set(done.merchant.return_hosts)
    assert done.changes[0].startswith("webhook URL ")


# --- the home page ------------------------------------------------------------------------

class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def links_of(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    return parser.found


def assert_every_link_answers(client, path, **headers):
    page = client.get(path, headers=headers)
    assert page.status_code == 200
    links = links_of(page.get_data(as_text=True))
    for link in links:
        target = urljoin("http://localhost" + path, link)
        assert urlsplit(target).netloc == "localhost", link  # no link leaves the site
        parts = urlsplit(target)
        answer = client.get(parts.path + ("?" + parts.query if parts.query else ""), headers=headers)
        assert answer.status_code == 200, f"{link} answered {answer.status_code}"
    return links


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_link_on_the_home_page_answers(client, language):
    links = assert_every_link_answers(client, "/", **{"Accept-Language": language})
    assert "/demo/shop" in links and "?lang=zh" in links and "?lang=en" in links


def test_home_page_without_the_demo_says_how_to_start_it(app, client):
    app.config["DEMO"] = False
    page = client.get("/?lang=en").get_data(as_text=True)
    assert 'data-testid="demo-off"' in page and "bin/run" in page
    assert "/demo/shop" not in links_of(page)
    assert_every_link_answers(client, "/?lang=en")


def test_home_page_links_the_demo_shop_once_it_is_set_up_even_with_demo_off(app, client):
    demo.setup("http://127.0.0.1:5000")
    app.config["DEMO"] = False
    assert "/demo/shop" in links_of(client.get("/").get_data(as_text=True))


def test_home_page_says_what_this_is_and_where_the_api_is(client):
    page = client.get("/?lang=en").get_data(as_text=True)
    assert "BeeCloud 秒支付 pay button, self-hosted" in page
    assert "POST /2/rest/bill" in page and "/1/pay/jsbutton/returnscripts" in page
    assert "README.md" in page


def test_home_page_speaks_chinese(client):
    page = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "打开演示商店" in page and "给商户的开发者" in page and "Try it" not in page


# --- error pages --------------------------------------------------------------------------

@pytest.mark.parametrize("language,heading,way", [("zh-CN", "找不到这个页面", "首页"),
                                                  ("en", "Page not found", "Home page")])
def test_not_found_page_speaks_the_shoppers_language_and_leads_home(client, language,
                                                                    heading, way):
    response = client.get("/pay/no-such-order", headers={"Accept-Language": language})
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f"<h1>{heading}</h1>" in page and "Not Found" not in page
    assert f'href="/" data-testid="error-home">{way}</a>' in page


def test_not_found_page_offers_the_way_back_to_a_page_of_this_site(client):
    page = client.get("/no/such", headers={"Referer": "http://localhost/demo/shop"})
    assert 'href="http://localhost/demo/shop" data-testid="error-back"' in page.get_data(as_text=True)


def test_not_found_page_never_links_back_to_another_site(client):
    page = client.get("/no/such", headers={"Referer": "https://evil.example/"})
    assert "evil.example" not in page.get_data(as_text=True)


def test_method_not_allowed_page_speaks_chinese(client):
    response = client.get("/demo/webhook", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 405
    assert "<h1>此处不支持这个操作</h1>" in response.get_data(as_text=True)


def test_server_error_page_speaks_english_and_leads_home(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = client.get("/boom", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in page and 'data-testid="error-home"' in page


# --- the favicon -------------------------------------------------------------------------

def test_favicon_ico_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


@pytest.mark.parametrize("path", ["/", "/no/such/page"])
def test_pages_link_the_favicons(client, path):
    links = links_of(client.get(path).get_data(as_text=True))
    assert "/favicon.ico" in links
    svg = next(link for link in links if link.startswith("/static/favicon.svg"))
    assert client.get(svg).mimetype == "image/svg+xml"
