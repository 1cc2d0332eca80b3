"""The skeleton: app factory, settings, schema, merchants and their CLI."""

import json

from checkout import config as settings
from checkout import merchants, money, signing


def test_database_uri_defaults_to_sqlite_in_instance_folder():
    assert settings.database_uri(None, "/srv/instance") == "sqlite:////srv/instance/checkout.sqlite3"


def test_database_uri_maps_postgres_urls_to_psycopg():
    assert settings.database_uri("postgres://u@h/db", "/x") == "postgresql+psycopg://u@h/db"
    assert settings.database_uri("postgresql://u@h/db", "/x") == "postgresql+psycopg://u@h/db"


def test_environment_settings_are_converted():
    values = settings.from_environment({"APP_SIGN_WINDOW_SECONDS": "60", "DEMO": "yes"})
    assert values["APP_SIGN_WINDOW_SECONDS"] == 60
    assert values["DEMO"] is True
    assert values["GATEWAY"] == "embedded"


def test_health_endpoint(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "<html" in response.get_data(as_text=True)


def test_pages_send_security_headers(client):
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_cli_creates_merchant_and_prints_credentials_as_json(runner):
    result = runner.invoke(args=["merchants", "create", "Tea House", "--channels",
                                 "ALI_WEB,WX_NATIVE", "--return-hosts", "tea.example.com",
                                 "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "Tea House"
    assert data["channels"] == ["ALI_WEB", "WX_NATIVE"]
    assert len(data["app_secret"]) == 36 and data["app_secret"] != data["master_secret"]
    assert merchants.get_merchant(data["app_id"]) is not None


def test_cli_refuses_unknown_channel(runner):
    result = runner.invoke(args=["merchants", "create", "X", "--channels", "NOPE"])
    assert result.exit_code != 0
    assert "unknown channel" in result.output


def test_cli_show_hides_secrets_unless_asked(runner, make_merchant):
    merchant = make_merchant()
    plain = runner.invoke(args=["merchants", "show", merchant.app_id, "--json"])
    assert merchant.app_secret not in plain.output
    full = runner.invoke(args=["merchants", "show", merchant.app_id, "--secrets", "--json"])
    assert merchant.app_secret in full.output


def test_cli_updates_channels_and_sites(runner, make_merchant):
    merchant = make_merchant()
    result = runner.invoke(args=["merchants", "update", merchant.app_id, "--channels", "WX_NATIVE",
                                 "--frame-origins", "https://shop.example.com/"])
    assert result.exit_code == 0, result.output
    assert merchants.get_merchant(merchant.app_id).channels == ["WX_NATIVE"]
    assert merchants.get_merchant(merchant.app_id).frame_origins == ["https://shop.example.com"]


def test_cli_rotates_one_secret(runner, make_merchant):
    merchant = make_merchant()
    old_app, old_master = merchant.app_secret, merchant.master_secret
    result = runner.invoke(args=["merchants", "rotate-secrets", merchant.app_id, "--kind", "app"])
    assert result.exit_code == 0
    fresh = merchants.get_merchant(merchant.app_id)
    assert fresh.app_secret != old_app and fresh.master_secret == old_master


def test_merchant_repr_never_shows_secrets(make_merchant):
    merchant = make_merchant()
    assert merchant.app_secret not in repr(merchant)


def test_button_sign_treats_number_and_string_amounts_alike():
    assert signing.button_sign("a", "t", 1, "o", "s") == signing.button_sign("a", "t", "1", "o", "s")


def test_button_sign_matches_seed_formula_over_utf8():
    import hashlib
    expected = hashlib.md5("app水1no1sec".encode("utf-8")).hexdigest()
    assert signing.button_sign("app", "水", 1, "no1", "sec") == expected


def test_signature_comparison_ignores_case():
    sign = signing.app_sign("app", 1, "sec")
    assert signing.verify_app_sign("app", 1, "sec", sign.upper())
    assert not signing.verify_app_sign("app", 2, "sec", sign)
    assert not signing.verify_app_sign("app", 1, "sec", None)


def test_money_formats_fen_as_yuan():
    assert money.format_amount(1) == "¥0.01"
    assert money.format_amount(123456) == "¥1,234.56"
    assert money.format_amount(500, "JPY") == "¥500"


def test_money_decimal_conversion_is_exact_or_refused():
    assert money.decimal_to_minor("12.34", "USD") == 1234
    assert money.decimal_to_minor("500", "JPY") == 500
    for bad, currency in (("1.234", "USD"), ("1.5", "JPY"), ("abc", "USD"), ("NaN", "USD")):
        try:
            money.decimal_to_minor(bad, currency)
        except money.MoneyError:
            continue
        raise AssertionError(f"{bad} {currency} was accepted")
