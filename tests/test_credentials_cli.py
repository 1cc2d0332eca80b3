"""``flask --app wsgi merchants credentials …``, ``show``, ``--checkout-mode`` and
``rotate-credentials-key`` (issue 14, Deliver 1 and 5): keys go in once and
never come out of the terminal again, and bad input is a message, not a
traceback."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import inspect, text

from checkout import credentials, merchants
from checkout.db import db

SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, SPKI).decode()


def bare(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def key_pieces(*pems: str) -> list[str]:
    pieces = []
    for pem in pems:
        pieces += [pem.strip(), bare(pem)]
        pieces += [line for line in pem.splitlines() if not line.startswith("-----")
                   and len(line) >= 40]
    return pieces


@pytest.fixture(scope="module")
def app_key():
    return rsa_key()


@pytest.fixture(scope="module")
def alipay_key():
    return rsa_key()


@pytest.fixture
def values(app_key, alipay_key):
    return {"app_id": "2021000000000001", "app_private_key": bare(private_pem(app_key)),
            "alipay_public_key": public_pem(alipay_key)}


@pytest.fixture
def secret_pieces(app_key, values):
    return key_pieces(private_pem(app_key)) + [values["app_private_key"]]


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture
def write(tmp_path):
    def make(content, name="alipay.json"):
        path = tmp_path / name
        if isinstance(content, (dict, list)):
            content = json.dumps(content)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)
    return make


def set_credentials(runner, *args):
    return runner.invoke(args=["merchants", "credentials", *args])


def assert_clean_failure(result, code=1):
    """A message and an exit code, not a traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


# --- saving --------------------------------------------------------------------------

def test_a_json_file_sets_the_credentials_and_prints_their_fingerprints(runner, merchant, values,
                                                                       write):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values),
                             "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"app_id": merchant.app_id, "provider": "alipay",
                    "credentials": credentials.summary(merchant.app_id)["alipay"]}
    assert credentials.load(merchant.app_id, "alipay")["app_id"] == "2021000000000001"


def test_setting_credentials_prints_no_key_and_logs_none(runner, merchant, values, write, caplog,
                                                        secret_pieces):
    caplog.set_level(logging.DEBUG)
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    assert result.exit_code == 0, result.output
    assert "saved the alipay credentials" in result.output
    assert "app_public_key_sha256" in result.output
    for piece in secret_pieces + key_pieces(values["alipay_public_key"]):
        assert piece not in result.output
        assert piece not in caplog.text


def every_stored_text() -> str:
    """Every value of every row of every table in the database, as text."""
    stored = []
    with db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            stored += [str(v) for row in connection.execute(text(f'SELECT * FROM "{table}"'))
                       for v in row]
    return "\n".join(stored)


def test_after_the_cli_no_table_holds_the_key(runner, merchant, values, write, secret_pieces):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    assert credentials.configured_providers(merchant.app_id) == {"alipay"}
    stored = every_stored_text()
    assert all(piece not in stored for piece in secret_pieces)


def test_the_file_may_come_from_standard_input(runner, merchant, values):
    result = runner.invoke(args=["merchants", "credentials", merchant.app_id, "alipay",
                                 "--json-file", "-"], input=json.dumps(values))
    assert result.exit_code == 0, result.output
    assert credentials.configured_providers(merchant.app_id) == {"alipay"}


def test_a_file_on_disk_is_reminded_to_be_put_away(runner, merchant, values, write):
    path = write(values)
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file", path)
    assert f"{path} still holds the private key" in result.stderr


# --- refusals ------------------------------------------------------------------------

def test_an_unknown_merchant_is_a_clear_error(runner, values, write):
    result = set_credentials(runner, "no-such-app", "alipay", "--json-file", write(values))
    assert_clean_failure(result)
    assert "no merchant with app_id no-such-app" in result.output


def test_a_file_that_is_not_json_is_a_clear_error(runner, merchant, write, values):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file",
                             write("app_id = 2021\n" + values["app_private_key"]))
    assert_clean_failure(result)
    assert "the credentials file is not valid JSON" in result.output
    assert values["app_private_key"][:40] not in result.output


def test_a_json_file_that_is_not_an_object_is_a_clear_error(runner, merchant, write):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(["x"]))
    assert_clean_failure(result)
    assert "must hold a JSON object of fields" in result.output


def test_bad_keys_are_a_clear_error_that_quotes_no_key(runner, merchant, values, write,
                                                       alipay_key):
    pem = private_pem(alipay_key)
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file",
                             write({**values, "alipay_public_key": pem}))
    assert_clean_failure(result)
    assert "alipay_public_key is a private key" in result.output
    assert all(piece not in result.output for piece in key_pieces(pem))
    assert credentials.configured_providers(merchant.app_id) == set()


def test_an_unknown_field_is_named(runner, merchant, values, write):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file",
                             write({**values, "charset": "utf-8"}))
    assert_clean_failure(result)
    assert "unknown field(s) 'charset'" in result.output


def test_an_unknown_provider_is_a_clear_error(runner, merchant, values, write):
    result = set_credentials(runner, merchant.app_id, "wechat", "--json-file", write(values))
    assert_clean_failure(result)
    assert "unknown provider 'wechat'; supported: alipay" in result.output


def test_two_sources_at_once_are_a_usage_error(runner, merchant, values, write):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values),
                             "--remove")
    assert_clean_failure(result, code=2)
    assert "give exactly one of --json-file FILE, --simulator or --remove" in result.output


def test_no_source_is_a_usage_error(runner, merchant):
    result = set_credentials(runner, merchant.app_id, "alipay")
    assert_clean_failure(result, code=2)
    assert "give exactly one of" in result.output


def test_a_missing_file_is_a_usage_error(runner, merchant, tmp_path):
    result = set_credentials(runner, merchant.app_id, "alipay", "--json-file",
                             str(tmp_path / "none.json"))
    assert_clean_failure(result, code=2)


def test_a_wrong_credentials_key_is_a_clear_error_in_show(runner, merchant, values, write, app):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    app.config["CREDENTIALS_KEY"] = Fernet.generate_key().decode()
    result = runner.invoke(args=["merchants", "rotate-credentials-key"])
    assert_clean_failure(result)
    assert "CREDENTIALS_KEY is not the key they were saved with" in result.output


# --- removing, showing ---------------------------------------------------------------

def test_remove_forgets_the_credentials(runner, merchant, values, write):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    result = set_credentials(runner, merchant.app_id, "alipay", "--remove")
    assert result.exit_code == 0, result.output
    assert credentials.configured_providers(merchant.app_id) == set()


def test_removing_what_is_not_there_is_a_clear_error(runner, merchant):
    result = set_credentials(runner, merchant.app_id, "alipay", "--remove")
    assert_clean_failure(result)
    assert f"app {merchant.app_id} has no alipay credentials" in result.output


def test_show_gives_fingerprints_only_even_with_secrets(runner, merchant, values, write,
                                                       secret_pieces):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    result = runner.invoke(args=["merchants", "show", merchant.app_id, "--secrets", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["channel_credentials"] == credentials.summary(merchant.app_id)
    assert all(piece not in result.output for piece in secret_pieces)


def test_show_as_text_lists_each_provider(runner, merchant, values, write):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    result = runner.invoke(args=["merchants", "show", merchant.app_id])
    fingerprint = credentials.summary(merchant.app_id)["alipay"]["app_public_key_sha256"]
    assert f"app_public_key_sha256={fingerprint}" in result.output
    assert "credentials     alipay app_id=2021000000000001" in result.output


def test_show_says_when_there_are_none(runner, merchant):
    result = runner.invoke(args=["merchants", "show", merchant.app_id])
    assert "credentials     (none)" in result.output


# --- rotation ------------------------------------------------------------------------

def test_rotate_credentials_key_reencrypts_with_the_new_key(runner, merchant, values, write, app):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    app.config.update(CREDENTIALS_OLD_KEYS=app.config["CREDENTIALS_KEY"],
                      CREDENTIALS_KEY=Fernet.generate_key().decode())
    result = runner.invoke(args=["merchants", "rotate-credentials-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 set(s) of channel credentials" in result.output
    app.config["CREDENTIALS_OLD_KEYS"] = ""
    assert credentials.load(merchant.app_id, "alipay")["app_id"] == "2021000000000001"


# --- checkout mode -------------------------------------------------------------------

def test_create_makes_a_test_mode_merchant_by_default(runner):
    result = runner.invoke(args=["merchants", "create", "Tea", "--json"])
    assert json.loads(result.output)["checkout_mode"] == "test"


def test_create_may_make_a_live_mode_merchant(runner):
    result = runner.invoke(args=["merchants", "create", "Tea", "--checkout-mode", "live", "--json"])
    assert result.exit_code == 0, result.output
    assert merchants.get_merchant(json.loads(result.stdout)["app_id"]).checkout_mode == "live"


def test_update_switches_the_checkout_mode(runner, merchant):
    result = runner.invoke(args=["merchants", "update", merchant.app_id, "--checkout-mode", "live"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert merchants.get_merchant(merchant.app_id).checkout_mode == "live"


def test_an_unknown_checkout_mode_is_a_usage_error(runner, merchant):
    result = runner.invoke(args=["merchants", "update", merchant.app_id, "--checkout-mode", "prod"])
    assert_clean_failure(result, code=2)
    assert merchants.get_merchant(merchant.app_id).checkout_mode == "test"


# --- --simulator -------------------------------------------------------------------

def test_simulator_sets_generated_credentials_and_prints_no_key(runner, merchant, caplog):
    from checkout.simulators.alipay import console

    caplog.set_level(logging.DEBUG)
    result = set_credentials(runner, merchant.app_id, "alipay", "--simulator", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["credentials"]
    assert summary["gateway"] == "simulator"
    loaded = credentials.load(merchant.app_id, "alipay")
    assert loaded["alipay_public_key"] == console.app_public_key(summary["app_id"])
    stored = every_stored_text()
    for piece in key_pieces(loaded["app_private_key"]):
        assert piece not in result.output and piece not in caplog.text and piece not in stored


def test_simulator_is_refused_when_the_simulators_are_off(runner, merchant, app):
    app.config["SIMULATORS"] = False
    result = set_credentials(runner, merchant.app_id, "alipay", "--simulator")
    assert_clean_failure(result)
    assert "the simulators are off" in result.output
    assert credentials.configured_providers(merchant.app_id) == set()


def test_going_live_without_credentials_says_no_channel_will_be_offered(runner, merchant):
    result = runner.invoke(args=["merchants", "update", merchant.app_id, "--checkout-mode", "live"])
    assert result.exit_code == 0, result.output
    assert f"app {merchant.app_id} has no channel credentials yet" in result.stderr


def test_going_live_with_credentials_needs_no_note(runner, merchant, values, write):
    set_credentials(runner, merchant.app_id, "alipay", "--json-file", write(values))
    result = runner.invoke(args=["merchants", "update", merchant.app_id, "--checkout-mode", "live"])
    assert "no channel credentials" not in result.stderr
