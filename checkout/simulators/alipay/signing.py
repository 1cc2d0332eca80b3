"""Alipay's RSA2 signatures, as the OpenAPI gateway computes them.

- A request (``gateway.do``): every parameter except ``sign`` and those with
  an empty value, ``sign_type`` included, sorted by name, ``key=value``
  joined with ``&`` (values as received, not URL-encoded), signed SHA256withRSA
  (PKCS#1 v1.5) with the merchant's app private key, base64. Alipay's
  "自行实现签名" guide; python-alipay-sdk 3.4.0's ``sign_data`` signs exactly
  this string (it sorts ``data.items()`` with ``sign_type`` in it).
- A synchronous answer: the exact JSON text of the ``<method>_response``
  object, signed with Alipay's private key (the SDK's
  ``_get_string_to_be_signed`` cuts that text out of the body to verify it).
- An async notification and the return_url parameters: every parameter
  except ``sign`` and ``sign_type``, sorted, ``key=value`` joined with ``&``
  (Alipay's "异步通知验签"; the SDK's ``verify()`` pops ``sign_type`` and
  sorts the rest).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_BITS = 2048  # RSA2 keys are 2048-bit (Alipay's key tool; 1024 is RSA, refused)


class BadKey(ValueError):
    """A key that does not parse, or is not an RSA-2048 public key."""


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA-2048 pair as (private PKCS#8 PEM, public SubjectPublicKeyInfo PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode("ascii")
    return private, public


def normalized_public_key(text: object) -> str:
    """The merchant's app public key as PEM. Alipay's console takes the bare
    base64 body (``MIIBIjAN…``) its key tool prints; a PEM is taken too."""
    if not isinstance(text, str) or not text.strip():
        raise BadKey("the app public key is empty")
    body = text.strip()
    if not body.startswith("-----BEGIN"):
        compact = "".join(body.split())
        lines = [compact[i:i + 64] for i in range(0, len(compact), 64)]
        body = "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----"
    try:
        key = serialization.load_pem_public_key(body.encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        raise BadKey("the app public key is not an RSA public key in PEM or base64 "
                        "(Alipay's key tool's 'public key')") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadKey("the app public key is not an RSA key (RSA2 needs RSA-2048)")
    if key.key_size != KEY_BITS:
        raise BadKey(f"the app public key has {key.key_size} bits; RSA2 needs {KEY_BITS}")
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def request_content(params: dict[str, str]) -> str:
    """The string a request's ``sign`` covers (see the module's note)."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params)
                    if key != "sign" and params[key] not in (None, ""))


def notify_content(params: dict[str, str]) -> str:
    """The string a notification's or a return's ``sign`` covers."""
    return "&".join(f"{key}={params[key]}" for key in sorted(params)
                    if key not in ("sign", "sign_type") and params[key] not in (None, ""))


def sign(private_pem: str, content: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode("ascii"), password=None)
    signature = key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(public_pem: str, content: str, signature: str) -> bool:
    """RSA2 verification (the library's check is the comparison: no string
    compare of secrets happens here)."""
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    try:
        key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
