"""Channel credentials, BeeCloud's 支付要素: each merchant app's own keys for
each provider, which live mode pays with (issue 14, Deliver 1).

They are secrets like the app secret (architecture.md, "Channels": encrypted
at rest, shown once, never logged, rotatable):

- at rest a row holds only a Fernet token (AES-128-CBC + HMAC-SHA256) of the
  values, under ``CREDENTIALS_KEY``; the plaintext also names the app and the
  provider, so a token copied onto another app's row is refused, not used;
- what may be shown is the row's ``summary``: the provider's app id, the
  SHA-256 fingerprints of the public keys (of their DER SubjectPublicKeyInfo,
  as ``openssl pkey -pubin -outform DER | sha256sum`` prints them, so an
  operator can compare with the files they hold) and the gateway; never a key;
- no message of this module quotes a value it was given (a pasted private key
  must not land in a terminal's scrollback or a log);
- rotation: put the old key in ``CREDENTIALS_OLD_KEYS``, a new one in
  ``CREDENTIALS_KEY``, run ``reencrypt_all`` (``flask --app wsgi merchants
  rotate-credentials-key``), then drop the old key.

Saving or removing credentials also touches the merchant's row, so its row
version moves and a kept chooser page (``checkout.page_cache``), whose live
channels depend on which providers are configured, is rendered again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .clock import now_ms
from .db import db
from .inputs import is_clean
from .models import ChannelCredential, Merchant

log = logging.getLogger(__name__)

PROVIDERS = ("alipay",)

# Alipay's production gateway (its OpenAPI documentation, "网关地址").
ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"
# The gateway value that means "the app's own built-in Alipay simulator";
# the connector resolves it to the running app's simulator URL at call time.
SIMULATOR = "simulator"
# RSA2 (SHA256withRSA) is Alipay's required signature type; its key tool
# makes 2048-bit keys, and shorter ones are breakable.
MIN_RSA_BITS = 2048
# A 4096-bit key in PEM is about 3.3 KB; anything much longer is not a key.
MAX_KEY_CHARS = 16 * 1024
MAX_GATEWAY_CHARS = 2048

_ALIPAY_FIELDS = ("app_id", "app_private_key", "alipay_public_key", "gateway")
_ALIPAY_REQUIRED = ("app_id", "app_private_key", "alipay_public_key")
_ALIPAY_APP_ID = re.compile(r"[0-9]{1,32}")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/=\s]+")


class CredentialsError(ValueError):
    """Credentials that cannot be accepted or read; the message says why and
    never quotes a key."""


# --- the key -----------------------------------------------------------------------

def _fernet_key(raw: str, name: str) -> Fernet:
    try:
        return Fernet(raw.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, binascii.Error):
        raise CredentialsError(
            f"{name} is not a Fernet key (32 bytes in url-safe base64, 44 characters; make one "
            "with: python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\")") from None


def _old_keys(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(part).strip() for part in value if str(part).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _cipher() -> MultiFernet:
    """CREDENTIALS_KEY encrypts; it and CREDENTIALS_OLD_KEYS decrypt."""
    current = current_app.config.get("CREDENTIALS_KEY") or ""
    if not current:
        raise CredentialsError("CREDENTIALS_KEY is not set")
    keys = [_fernet_key(current, "CREDENTIALS_KEY")]
    keys += [_fernet_key(old, "a key in CREDENTIALS_OLD_KEYS")
             for old in _old_keys(current_app.config.get("CREDENTIALS_OLD_KEYS"))]
    return MultiFernet(keys)


def _wrong_key(app_id: str, provider: str) -> CredentialsError:
    return CredentialsError(
        f"the stored {provider} credentials of app {app_id} cannot be decrypted: CREDENTIALS_KEY "
        "is not the key they were saved with (after changing it, put the old key in "
        "CREDENTIALS_OLD_KEYS and run `flask --app wsgi merchants rotate-credentials-key`; "
        "every host must have the same key)")


# --- keys in the forms merchants have them -----------------------------------------

def _fingerprint(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _public_pem(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _private_pem(private_key) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode("ascii")


def _key_text(values: dict, field: str) -> str:
    value = values.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"{field} must be a key: PEM text, or the base64 text Alipay's "
                               "key tool gives")
    if len(value) > MAX_KEY_CHARS or not is_clean(value):
        raise CredentialsError(f"{field} is not a key (too long, or it holds control "
                               "characters)")
    return value.strip()


def _der_body(text: str) -> bytes | None:
    """The bytes of Alipay's bare base64 form (its key tool's ``.txt``
    files: the PEM body without the BEGIN/END lines), or None."""
    if not _BASE64_BODY.fullmatch(text):
        return None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def _as_private(text: str):
    """(private key, None) or (None, what it is instead)."""
    der = None if "-----BEGIN" in text else _der_body(text)
    try:
        if der is None:
            return serialization.load_pem_private_key(text.encode("ascii", "replace"),
                                                      password=None), None
        return serialization.load_der_private_key(der, password=None), None
    except TypeError:  # a password-protected key
        return None, "encrypted"
    except (ValueError, UnsupportedAlgorithm):
        pass
    return None, "public" if _as_public(text)[0] is not None else "nothing"


def _as_public(text: str):
    """(public key, None) or (None, what it is instead)."""
    der = None if "-----BEGIN" in text else _der_body(text)
    try:
        if der is None:
            return serialization.load_pem_public_key(text.encode("ascii", "replace")), None
        return serialization.load_der_public_key(der), None
    except (ValueError, UnsupportedAlgorithm):
        pass
    if der is None and "PRIVATE KEY-----" in text:
        return None, "private"
    if der is not None:
        try:
            serialization.load_der_private_key(der, password=None)
            return None, "private"
        except (TypeError, ValueError, UnsupportedAlgorithm):
            pass
    return None, "nothing"


def _private_key(values: dict, field: str):
    key, instead = _as_private(_key_text(values, field))
    if instead == "encrypted":
        raise CredentialsError(f"{field} is protected by a password; give the key without one "
                               "(as Alipay's key tool writes it)")
    if instead == "public":
        raise CredentialsError(f"{field} is a public key; give the app's private key "
                               "(应用私钥) here")
    if key is None:
        raise CredentialsError(f"{field} is not a private key: give it as PEM (-----BEGIN "
                               "PRIVATE KEY-----) or as the base64 text Alipay's key tool gives")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(f"{field} is not an RSA key (Alipay's RSA2 signatures need one)")
    if key.key_size < MIN_RSA_BITS:
        raise CredentialsError(f"{field} is a {key.key_size}-bit RSA key; RSA2 needs at least "
                               f"{MIN_RSA_BITS} bits")
    return key


def _public_key(values: dict, field: str, what: str):
    key, instead = _as_public(_key_text(values, field))
    if instead == "private":
        raise CredentialsError(f"{field} is a private key; give {what} here (a public key)")
    if key is None:
        raise CredentialsError(f"{field} is not a public key: give it as PEM (-----BEGIN "
                               "PUBLIC KEY-----) or as the base64 text Alipay gives")
    if not isinstance(key, rsa.RSAPublicKey):
        raise CredentialsError(f"{field} is not an RSA key (Alipay's RSA2 signatures need one)")
    return key


def _gateway(value: object) -> str:
    if value is None:
        return ALIPAY_GATEWAY
    if not isinstance(value, str) or not value.strip():
        raise CredentialsError(f"gateway must be an https:// URL (default {ALIPAY_GATEWAY}) "
                               f"or the word {SIMULATOR!r}")
    value = value.strip()
    if value == SIMULATOR:
        return value
    if len(value) > MAX_GATEWAY_CHARS or not is_clean(value) or any(c.isspace() for c in value):
        raise CredentialsError("gateway is not a URL")
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise CredentialsError(f"gateway must be an https:// URL (default {ALIPAY_GATEWAY}) "
                               f"or the word {SIMULATOR!r}: requests carry signed payments")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise CredentialsError("gateway must be a plain https:// URL, without a user name, "
                               "password, query or fragment")
    return value


def _check_alipay(values: dict) -> tuple[dict, dict]:
    """The values normalised (keys as PEM) and their public summary."""
    unknown = sorted((name for name in values if name not in _ALIPAY_FIELDS), key=str)
    if unknown:
        names = ", ".join(repr(name) if isinstance(name, str) and is_clean(name)
                          and len(name) <= 40 else "(unreadable)" for name in unknown)
        raise CredentialsError(f"unknown field(s) {names}; alipay takes "
                               f"{', '.join(_ALIPAY_FIELDS)}")
    missing = [name for name in _ALIPAY_REQUIRED if name not in values]
    if missing:
        raise CredentialsError(f"missing field(s): {', '.join(missing)}")
    app_id = values["app_id"]
    if not isinstance(app_id, str) or not _ALIPAY_APP_ID.fullmatch(app_id.strip()):
        raise CredentialsError("app_id must be the Alipay app's id: digits only, at most 32 "
                               "(e.g. 2021000000000000)")
    app_id = app_id.strip()
    private_key = _private_key(values, "app_private_key")
    alipay_key = _public_key(values, "alipay_public_key", "Alipay's public key (支付宝公钥)")
    app_fingerprint = _fingerprint(private_key.public_key())
    alipay_fingerprint = _fingerprint(alipay_key)
    if app_fingerprint == alipay_fingerprint:
        # The usual slip: pasting the app's own public key (应用公钥) where
        # Alipay's is asked for; notifications could then never be verified.
        raise CredentialsError("alipay_public_key is the app's own public key (应用公钥); give "
                               "Alipay's public key (支付宝公钥) from the Alipay open platform")
    gateway = _gateway(values.get("gateway"))
    clean = {"app_id": app_id, "app_private_key": _private_pem(private_key),
             "alipay_public_key": _public_pem(alipay_key), "gateway": gateway}
    summary = {"app_id": app_id, "gateway": gateway,
               "app_public_key_sha256": app_fingerprint,
               "alipay_public_key_sha256": alipay_fingerprint,
               "app_key_bits": private_key.key_size}
    return clean, summary


_CHECKS = {"alipay": _check_alipay}


def _provider(provider: object) -> str:
    if provider not in PROVIDERS:
        shown = repr(provider) if isinstance(provider, str) and is_clean(provider) \
            and len(provider) <= 40 else "(unreadable)"
        raise CredentialsError(f"unknown provider {shown}; supported: {', '.join(PROVIDERS)}")
    return provider


def _merchant(merchant_or_app_id: Merchant | str) -> Merchant:
    if isinstance(merchant_or_app_id, Merchant):
        return merchant_or_app_id
    from .merchants import get_merchant

    merchant = get_merchant(merchant_or_app_id)
    if merchant is None:
        shown = merchant_or_app_id if isinstance(merchant_or_app_id, str) \
            and is_clean(merchant_or_app_id) and len(merchant_or_app_id) <= 40 else "(unreadable)"
        raise CredentialsError(f"no merchant with app_id {shown}")
    return merchant


def _row(app_id: str, provider: str) -> ChannelCredential | None:
    return db.session.execute(
        db.select(ChannelCredential).where(ChannelCredential.app_id == app_id,
                                           ChannelCredential.provider == provider)
    ).scalar_one_or_none()


def _touch_merchant(app_id: str) -> None:
    """An UPDATE of the merchant's row, so its row version moves (see the
    module's docstring); nothing else of it changes."""
    db.session.execute(db.update(Merchant).where(Merchant.app_id == app_id)
                       .values(checkout_mode=Merchant.checkout_mode))


# --- the public API ------------------------------------------------------------------

def save(merchant_or_app_id: Merchant | str, provider: str, values: dict) -> dict:
    """Check ``values`` for ``provider``, store them encrypted (replacing any
    earlier ones of this app and provider), and answer their public summary."""
    provider = _provider(provider)
    if not isinstance(values, dict):
        raise CredentialsError(f"{provider} credentials must be a JSON object of fields")
    merchant = _merchant(merchant_or_app_id)
    clean, summary = _CHECKS[provider](values)
    plaintext = json.dumps({"app_id": merchant.app_id, "provider": provider, "values": clean},
                           ensure_ascii=True, separators=(",", ":")).encode("ascii")
    token = _cipher().encrypt(plaintext).decode("ascii")
    for attempt in (1, 2):
        now = now_ms()
        row = _row(merchant.app_id, provider)
        if row is None:
            row = ChannelCredential(app_id=merchant.app_id, provider=provider, created_at=now)
            db.session.add(row)
        row.ciphertext, row.summary, row.updated_at = token, summary, now
        _touch_merchant(merchant.app_id)
        try:
            db.session.commit()
            break
        except IntegrityError:
            # Another save of the same app and provider inserted first: update that row.
            db.session.rollback()
            if attempt == 2:
                raise
    log.info("saved %s credentials of app %s (provider app id %s, app key SHA-256 %s)",
             provider, merchant.app_id, summary.get("app_id"), summary.get("app_public_key_sha256"))
    return dict(summary)


def load(app_id: str, provider: str) -> dict | None:
    """The decrypted values (keys as PEM), or None when the app has none for
    this provider. A key that cannot decrypt them is a CredentialsError."""
    row = _row(app_id, _provider(provider))
    if row is None:
        return None
    try:
        data = json.loads(_cipher().decrypt(row.ciphertext.encode("ascii")))
    except (InvalidToken, UnicodeEncodeError):
        raise _wrong_key(app_id, provider) from None
    if data.get("app_id") != app_id or data.get("provider") != provider:
        raise CredentialsError(f"the stored {provider} credentials of app {app_id} were saved "
                               "for another app or provider; save them again")
    return dict(data["values"])


def configured_providers(app_id: str) -> set[str]:
    """The providers this app has credentials for: one indexed query, no
    decryption (the chooser asks on every page)."""
    return set(db.session.execute(
        db.select(ChannelCredential.provider).where(ChannelCredential.app_id == app_id)
    ).scalars())


def summary(app_id: str) -> dict[str, dict]:
    """What may be shown of each provider's credentials: fingerprints, never keys."""
    rows = db.session.execute(
        db.select(ChannelCredential).where(ChannelCredential.app_id == app_id)
        .order_by(ChannelCredential.provider)
    ).scalars()
    return {row.provider: dict(row.summary) for row in rows}


def remove(app_id: str, provider: str) -> bool:
    """Forget this app's credentials for ``provider``; False when it had none."""
    row = _row(app_id, _provider(provider))
    if row is None:
        return False
    db.session.delete(row)
    _touch_merchant(app_id)
    db.session.commit()
    log.info("removed %s credentials of app %s", provider, app_id)
    return True


def reencrypt_all() -> int:
    """Encrypt every row again with CREDENTIALS_KEY (rows under a key in
    CREDENTIALS_OLD_KEYS are decrypted with it); all rows or none. Answers
    how many rows there are. ``updated_at`` stays: the credentials are the same."""
    cipher = _cipher()
    rows = list(db.session.execute(db.select(ChannelCredential)
                                   .order_by(ChannelCredential.id)).scalars())
    for row in rows:
        try:
            row.ciphertext = cipher.rotate(row.ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError):
            db.session.rollback()
            raise _wrong_key(row.app_id, row.provider) from None
    db.session.commit()
    log.info("re-encrypted %d channel credential row(s) with the current CREDENTIALS_KEY",
             len(rows))
    return len(rows)


def simulator_values(app_id: str) -> dict:
    """Credentials for the built-in Alipay simulator: a fresh RSA-2048 key
    pair for the app, its public key registered with the simulator (which
    answers its own app id and its Alipay public key), gateway "simulator"."""
    from .simulators.alipay import console

    _merchant(app_id)
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_RSA_BITS)
    opened = console.open_app(_public_pem(private_key.public_key()))
    return {"app_id": str(opened["app_id"]), "app_private_key": _private_pem(private_key),
            "alipay_public_key": opened["alipay_public_key"], "gateway": SIMULATOR}
