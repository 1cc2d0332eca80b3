"""Channel credentials, BeeCloud's 支付要素 (issue 14, Deliver 1; checkout.credentials):
checked on entry, encrypted at rest under CREDENTIALS_KEY, shown only as
fingerprints, rotatable; and the merchant's checkout mode (Deliver 5)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import create_engine, inspect, text

from checkout import config as settings
from checkout import credentials, merchants
from checkout.db import db
from checkout.models import ChannelCredential

PEM, DER = serialization.Encoding.PEM, serialization.Encoding.DER
PKCS8, PKCS1 = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
NONE = serialization.NoEncryption()


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key, form=PKCS8, encryption=NONE) -> str:
    return key.private_bytes(PEM, form, encryption).decode()


def public_pem(key) -> str:
    return key.public_key().public_bytes(PEM, SPKI).decode()


def bare(pem: str) -> str:
    """Alipay's key tool's form: the PEM body, no BEGIN/END lines, one line."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def fingerprint(key) -> str:
    return hashlib.sha256(key.public_key().public_bytes(DER, SPKI)).hexdigest()


def key_pieces(*pems: str) -> list[str]:
    """Texts that betray a key if found anywhere: each whole PEM, its one-line
    body, and every 64-character line of its body."""
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
    return {"app_id": "2021000000000001", "app_private_key": private_pem(app_key),
            "alipay_public_key": public_pem(alipay_key)}


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


def refused(merchant, values, provider="alipay") -> str:
    with pytest.raises(credentials.CredentialsError) as caught:
        credentials.save(merchant, provider, values)
    return str(caught.value)


def every_stored_text() -> str:
    """Every value of every row of every table in the database, as text."""
    engine = db.engine
    parts = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


# --- saving and reading ------------------------------------------------------------

def test_saving_answers_a_summary_of_fingerprints_and_no_key(merchant, values, app_key,
                                                             alipay_key):
    summary = credentials.save(merchant, "alipay", values)
    assert summary == {"app_id": "2021000000000001",
                       "gateway": "https://openapi.alipay.com/gateway.do",
                       "app_public_key_sha256": fingerprint(app_key),
                       "alipay_public_key_sha256": fingerprint(alipay_key),
                       "app_key_bits": 2048}


def test_loading_answers_the_saved_values_with_keys_as_pem(merchant, values):
    credentials.save(merchant.app_id, "alipay", values)
    assert credentials.load(merchant.app_id, "alipay") == {
        **values, "gateway": "https://openapi.alipay.com/gateway.do"}


def test_alipay_key_tool_base64_bodies_are_accepted_and_kept_as_pem(merchant, values, app_key,
                                                                    alipay_key):
    credentials.save(merchant, "alipay", {**values,
                                          "app_private_key": bare(private_pem(app_key)),
                                          "alipay_public_key": bare(public_pem(alipay_key))})
    loaded = credentials.load(merchant.app_id, "alipay")
    assert loaded["app_private_key"] == private_pem(app_key)
    assert loaded["alipay_public_key"] == public_pem(alipay_key)


def test_a_pkcs1_private_key_is_kept_as_pkcs8_pem(merchant, values, app_key):
    # Alipay's key tool writes PKCS#1 for non-Java languages, PKCS#8 for Java.
    credentials.save(merchant, "alipay", {**values, "app_private_key": private_pem(app_key, PKCS1)})
    assert credentials.load(merchant.app_id, "alipay")["app_private_key"] == private_pem(app_key)


def test_a_pkcs1_base64_body_is_accepted(merchant, values, app_key):
    credentials.save(merchant, "alipay",
                     {**values, "app_private_key": bare(private_pem(app_key, PKCS1))})
    assert credentials.load(merchant.app_id, "alipay")["app_private_key"] == private_pem(app_key)


def test_the_gateway_may_be_the_builtin_simulator(merchant, values):
    summary = credentials.save(merchant, "alipay", {**values, "gateway": "simulator"})
    assert summary["gateway"] == "simulator"
    assert credentials.load(merchant.app_id, "alipay")["gateway"] == "simulator"


def test_the_gateway_may_be_another_https_url(merchant, values):
    sandbox = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
    assert credentials.save(merchant, "alipay", {**values, "gateway": sandbox})["gateway"] == sandbox


def test_saving_again_replaces_the_values_in_the_same_row(merchant, values, clock):
    credentials.save(merchant, "alipay", values)
    first = db.session.execute(db.select(ChannelCredential)).scalar_one()
    created = first.created_at
    clock.now += 60_000
    credentials.save(merchant, "alipay", {**values, "app_id": "2021000000000002"})
    rows = db.session.execute(db.select(ChannelCredential)).scalars().all()
    assert len(rows) == 1
    assert rows[0].created_at == created and rows[0].updated_at == created + 60_000
    assert credentials.load(merchant.app_id, "alipay")["app_id"] == "2021000000000002"


def test_saving_changes_the_merchants_row_version_so_kept_pages_are_redone(merchant, values):
    before = merchant.version
    credentials.save(merchant, "alipay", values)
    db.session.expire_all()
    assert merchants.get_merchant(merchant.app_id).version == before + 1


def test_an_app_without_credentials_loads_none(merchant):
    assert credentials.load(merchant.app_id, "alipay") is None


def test_configured_providers_names_the_providers_with_credentials(merchant, values,
                                                                   make_merchant):
    other = make_merchant("Other shop")
    assert credentials.configured_providers(merchant.app_id) == set()
    credentials.save(merchant, "alipay", values)
    assert credentials.configured_providers(merchant.app_id) == {"alipay"}
    assert credentials.configured_providers(other.app_id) == set()


def test_summary_gives_each_providers_fingerprints(merchant, values, app_key):
    credentials.save(merchant, "alipay", values)
    summary = credentials.summary(merchant.app_id)
    assert list(summary) == ["alipay"]
    assert summary["alipay"]["app_public_key_sha256"] == fingerprint(app_key)


def test_remove_forgets_the_credentials(merchant, values):
    credentials.save(merchant, "alipay", values)
    assert credentials.remove(merchant.app_id, "alipay") is True
    assert credentials.load(merchant.app_id, "alipay") is None
    assert credentials.configured_providers(merchant.app_id) == set()


def test_removing_what_is_not_there_answers_false(merchant):
    assert credentials.remove(merchant.app_id, "alipay") is False


# --- encrypted at rest -------------------------------------------------------------

def test_no_table_holds_the_keys_in_clear(merchant, app_key, alipay_key, values):
    credentials.save(merchant, "alipay", {**values,
                                          "app_private_key": private_pem(app_key, PKCS1)})
    stored = every_stored_text()
    assert "channel_credentials" in inspect(db.engine).get_table_names()
    assert credentials.configured_providers(merchant.app_id) == {"alipay"}
    for piece in key_pieces(private_pem(app_key), private_pem(app_key, PKCS1),
                            public_pem(alipay_key)):
        assert piece not in stored


def test_no_table_holds_a_base64_body_key_in_clear(merchant, app_key, values):
    body = bare(private_pem(app_key))
    credentials.save(merchant, "alipay", {**values, "app_private_key": body})
    stored = every_stored_text()
    for piece in key_pieces(private_pem(app_key)) + [body[i:i + 48] for i in range(0, len(body), 48)]:
        assert piece not in stored


def test_the_stored_row_is_a_fernet_token_of_the_current_key(merchant, values, app):
    credentials.save(merchant, "alipay", values)
    row = db.session.execute(db.select(ChannelCredential)).scalar_one()
    plaintext = Fernet(app.config["CREDENTIALS_KEY"]).decrypt(row.ciphertext.encode())
    assert values["app_private_key"].replace("\n", "\\n").encode() in plaintext


def test_a_token_moved_to_another_apps_row_is_refused(merchant, values, make_merchant):
    other = make_merchant("Other shop")
    credentials.save(merchant, "alipay", values)
    credentials.save(other, "alipay", {**values, "app_id": "2021000000000009"})
    rows = {row.app_id: row for row in db.session.execute(db.select(ChannelCredential)).scalars()}
    rows[other.app_id].ciphertext = rows[merchant.app_id].ciphertext
    db.session.commit()
    with pytest.raises(credentials.CredentialsError, match="another app"):
        credentials.load(other.app_id, "alipay")


# --- the key ---------------------------------------------------------------------

def test_a_wrong_credentials_key_is_a_clear_error(merchant, values, app):
    credentials.save(merchant, "alipay", values)
    app.config["CREDENTIALS_KEY"] = Fernet.generate_key().decode()
    with pytest.raises(credentials.CredentialsError) as caught:
        credentials.load(merchant.app_id, "alipay")
    message = str(caught.value)
    assert "CREDENTIALS_KEY is not the key they were saved with" in message
    assert all(piece not in message for piece in key_pieces(values["app_private_key"]))


def test_a_malformed_credentials_key_is_a_clear_error(merchant, values, app):
    app.config["CREDENTIALS_KEY"] = "not-a-fernet-key"
    with pytest.raises(credentials.CredentialsError, match="CREDENTIALS_KEY is not a Fernet key"):
        credentials.save(merchant, "alipay", values)


def test_rotation_reencrypts_every_row_so_the_new_key_alone_reads_them(merchant, values, app,
                                                                       make_merchant):
    other = make_merchant("Other shop")
    credentials.save(merchant, "alipay", values)
    credentials.save(other, "alipay", {**values, "app_id": "2021000000000009"})
    old, new = app.config["CREDENTIALS_KEY"], Fernet.generate_key().decode()
    app.config.update(CREDENTIALS_KEY=new, CREDENTIALS_OLD_KEYS=old)
    assert credentials.reencrypt_all() == 2
    app.config["CREDENTIALS_OLD_KEYS"] = ""
    assert credentials.load(merchant.app_id, "alipay") == {
        **values, "gateway": "https://openapi.alipay.com/gateway.do"}
    assert credentials.load(other.app_id, "alipay")["app_id"] == "2021000000000009"


def test_old_keys_still_decrypt_before_the_rotation(merchant, values, app):
    credentials.save(merchant, "alipay", values)
    old = app.config["CREDENTIALS_KEY"]
    app.config.update(CREDENTIALS_KEY=Fernet.generate_key().decode(),
                      CREDENTIALS_OLD_KEYS=f"{Fernet.generate_key().decode()}, {old}")
    assert credentials.load(merchant.app_id, "alipay")["app_id"] == values["app_id"]


def test_rotation_without_the_old_key_changes_nothing(merchant, values, app):
    credentials.save(merchant, "alipay", values)
    old = app.config["CREDENTIALS_KEY"]
    app.config["CREDENTIALS_KEY"] = Fernet.generate_key().decode()
    with pytest.raises(credentials.CredentialsError, match="CREDENTIALS_OLD_KEYS"):
        credentials.reencrypt_all()
    app.config["CREDENTIALS_KEY"] = old
    assert credentials.load(merchant.app_id, "alipay")["app_id"] == values["app_id"]


def test_without_a_configured_key_one_is_made_in_the_instance_folder(app):
    path = os.path.join(app.instance_path, "credentials_key")
    assert app.config["CREDENTIALS_KEY"] == open(path).read().strip()
    assert os.stat(path).st_mode & 0o777 == 0o600
    Fernet(app.config["CREDENTIALS_KEY"])  # a valid key


def test_the_instance_key_is_made_once_and_then_reused(tmp_path):
    first = settings.instance_credentials_key(str(tmp_path))
    assert settings.instance_credentials_key(str(tmp_path)) == first
    assert sorted(os.listdir(tmp_path)) == ["credentials_key"]


def test_a_configured_key_is_used_and_no_file_is_made(app_config, tmp_path, monkeypatch):
    from checkout import create_app

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "configured"))
    application = create_app({**app_config, "CREDENTIALS_KEY": key})
    assert application.config["CREDENTIALS_KEY"] == key
    assert not (tmp_path / "configured" / "credentials_key").exists()


def test_the_keys_come_from_the_environment():
    values = settings.from_environment({"CREDENTIALS_KEY": "k", "CREDENTIALS_OLD_KEYS": "a,b"})
    assert (values["CREDENTIALS_KEY"], values["CREDENTIALS_OLD_KEYS"]) == ("k", "a,b")


# --- what is refused, and how it is said -----------------------------------------

def test_text_that_is_not_a_key_is_refused(merchant, values):
    message = refused(merchant, {**values, "app_private_key": "hello, I am not a key"})
    assert message.startswith("app_private_key is not a private key")
    assert "hello" not in message


def test_base64_that_is_not_a_key_is_refused(merchant, values):
    junk = base64.b64encode(os.urandom(600)).decode()
    message = refused(merchant, {**values, "app_private_key": junk})
    assert message.startswith("app_private_key is not a private key") and junk[:20] not in message


def test_a_public_key_where_the_private_key_belongs_is_refused(merchant, values, app_key):
    message = refused(merchant, {**values, "app_private_key": public_pem(app_key)})
    assert message == "app_private_key is a public key; give the app's private key (应用私钥) here"


def test_a_1024_bit_private_key_is_refused(merchant, values):
    message = refused(merchant, {**values, "app_private_key": private_pem(rsa_key(1024))})
    assert message == "app_private_key is a 1024-bit RSA key; RSA2 needs at least 2048 bits"


def test_a_non_rsa_private_key_is_refused(merchant, values):
    key = ec.generate_private_key(ec.SECP256R1())
    message = refused(merchant, {**values, "app_private_key": private_pem(key)})
    assert message.startswith("app_private_key is not an RSA key")


def test_a_password_protected_private_key_is_refused(merchant, values, app_key):
    locked = private_pem(app_key, PKCS8, serialization.BestAvailableEncryption(b"pw"))
    message = refused(merchant, {**values, "app_private_key": locked})
    assert message.startswith("app_private_key is protected by a password")


def test_a_private_key_where_alipays_public_key_belongs_is_refused_and_not_kept(
        merchant, values, alipay_key):
    pem = private_pem(alipay_key)
    message = refused(merchant, {**values, "alipay_public_key": pem})
    assert message.startswith("alipay_public_key is a private key")
    assert all(piece not in every_stored_text() for piece in key_pieces(pem))


def test_a_private_base64_body_where_alipays_public_key_belongs_is_refused(merchant, values,
                                                                          alipay_key):
    message = refused(merchant, {**values, "alipay_public_key": bare(private_pem(alipay_key))})
    assert message.startswith("alipay_public_key is a private key")


def test_text_that_is_not_a_public_key_is_refused(merchant, values):
    message = refused(merchant, {**values, "alipay_public_key": "-----BEGIN PUBLIC KEY-----\nxx"})
    assert message.startswith("alipay_public_key is not a public key")


def test_the_apps_own_public_key_as_alipays_is_refused(merchant, values, app_key):
    message = refused(merchant, {**values, "alipay_public_key": public_pem(app_key)})
    assert message.startswith("alipay_public_key is the app's own public key (应用公钥)")


@pytest.mark.parametrize("app_id", ["abc", "2021-0001", "1" * 33, "", 2021000000000001, "２０２１"])
def test_an_app_id_that_is_not_alipays_is_refused(merchant, values, app_id):
    message = refused(merchant, {**values, "app_id": app_id})
    assert message.startswith("app_id must be the Alipay app's id: digits only")


def test_an_http_gateway_is_refused(merchant, values):
    message = refused(merchant, {**values, "gateway": "http://openapi.alipay.com/gateway.do"})
    assert message.startswith("gateway must be an https:// URL")


def test_a_gateway_that_is_neither_url_nor_simulator_is_refused(merchant, values):
    message = refused(merchant, {**values, "gateway": "sandbox"})
    assert message.startswith("gateway must be an https:// URL")
    assert "'simulator'" in message


def test_a_gateway_with_a_password_in_it_is_refused(merchant, values):
    message = refused(merchant, {**values, "gateway": "https://u:secret@gw.example/gateway.do"})
    assert "without a user name, password" in message and "secret" not in message


def test_an_unknown_field_is_refused_by_name(merchant, values):
    message = refused(merchant, {**values, "sign_type": "RSA2"})
    assert message.startswith("unknown field(s) 'sign_type'; alipay takes app_id, ")


def test_a_missing_field_is_named(merchant, values):
    del values["alipay_public_key"]
    assert refused(merchant, values) == "missing field(s): alipay_public_key"


def test_a_key_that_is_not_text_is_refused(merchant, values):
    message = refused(merchant, {**values, "app_private_key": ["-----BEGIN PRIVATE KEY-----"]})
    assert message.startswith("app_private_key must be a key")


def test_an_unknown_provider_is_refused(merchant, values):
    assert refused(merchant, values, provider="stripe") == \
        "unknown provider 'stripe'; supported: alipay"


def test_an_unknown_merchant_is_refused(app, values):
    with pytest.raises(credentials.CredentialsError, match="no merchant with app_id nope"):
        credentials.save("nope", "alipay", values)


def test_nothing_is_stored_when_refused(merchant, values):
    refused(merchant, {**values, "gateway": "http://x"})
    assert credentials.configured_providers(merchant.app_id) == set()


# --- the merchant's checkout mode ---------------------------------------------------

def test_a_new_merchant_checks_out_in_test_mode(merchant):
    assert merchant.checkout_mode == "test"
    assert merchants.public_view(merchant)["checkout_mode"] == "test"


def test_a_merchant_may_be_created_in_live_mode(app):
    assert merchants.create_merchant("Live shop", checkout_mode="live").checkout_mode == "live"


def test_a_merchant_may_be_switched_to_live_mode(merchant):
    merchants.update_merchant(merchant, checkout_mode="live")
    db.session.expire_all()
    assert merchants.get_merchant(merchant.app_id).checkout_mode == "live"


def test_an_unknown_checkout_mode_is_refused(merchant):
    with pytest.raises(merchants.MerchantError, match="the checkout mode must be live or test"):
        merchants.update_merchant(merchant, checkout_mode="prod")


# --- the migration ------------------------------------------------------------------

@pytest.fixture
def scratch_url(database_template, tmp_path):
    """An empty database of the suite's kind, for walking migrations."""
    if database_template["kind"] == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    url = database_template["url"]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{url.rsplit('/', 1)[1]}_m11"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(url, verb, revision):
    from alembic import command

    from checkout.cli.db import alembic_config

    getattr(command, verb)(alembic_config(url), revision)


def test_existing_merchants_get_test_mode_from_the_migration(scratch_url):
    _migrate(scratch_url, "upgrade", "0010_bill_expiry_index")
    engine = create_engine(scratch_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO merchants (app_id, name, app_secret, master_secret, test_secret, "
            "channels, return_hosts, frame_origins, default_currency, created_at) VALUES "
            "('old-app', 'Old', 's', 'm', 't', '[]', '[]', '[]', 'CNY', 1)"))
    _migrate(scratch_url, "upgrade", "0011_channel_credentials")
    with engine.connect() as connection:
        mode = connection.execute(text(
            "SELECT checkout_mode FROM merchants WHERE app_id = 'old-app'")).scalar_one()
    engine.dispose()
    assert mode == "test"


def test_the_migration_goes_down_and_up_again(scratch_url):
    _migrate(scratch_url, "upgrade", "0011_channel_credentials")
    _migrate(scratch_url, "downgrade", "0010_bill_expiry_index")
    engine = create_engine(scratch_url)
    with engine.connect() as connection:
        schema = inspect(connection)
        down = ("channel_credentials" in schema.get_table_names(),
                "checkout_mode" in {c["name"] for c in schema.get_columns("merchants")})
    engine.dispose()
    _migrate(scratch_url, "upgrade", "0011_channel_credentials")
    engine = create_engine(scratch_url)
    with engine.connect() as connection:
        up = "channel_credentials" in inspect(connection).get_table_names()
    engine.dispose()
    assert down == (False, False) and up


# --- the built-in Alipay simulator ----------------------------------------------------

def test_simulator_values_are_keys_the_simulator_accepts(merchant):
    from checkout.simulators.alipay import console, signing
    from checkout.simulators.alipay.models import SimApp

    values = credentials.simulator_values(merchant.app_id)
    assert values["gateway"] == "simulator"
    assert values["alipay_public_key"] == console.app_public_key(values["app_id"])
    # A request signed with the app's new private key verifies with the
    # public key the simulator's console registered for that app.
    registered = db.session.get(SimApp, values["app_id"]).app_public_key
    content = "app_id=" + values["app_id"] + "&method=alipay.trade.query"
    assert signing.verify(registered, content, signing.sign(values["app_private_key"], content))


def test_simulator_values_pass_the_checks_on_entry(merchant):
    summary = credentials.save(merchant, "alipay", credentials.simulator_values(merchant.app_id))
    assert summary["gateway"] == "simulator" and summary["app_key_bits"] == 2048


def test_each_simulator_app_gets_its_own_keys(merchant):
    first = credentials.simulator_values(merchant.app_id)
    second = credentials.simulator_values(merchant.app_id)
    assert first["app_id"] != second["app_id"]
    assert first["app_private_key"] != second["app_private_key"]
