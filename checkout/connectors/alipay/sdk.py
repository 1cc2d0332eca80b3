"""The one place that imports python-alipay-sdk (``alipay``), and the three
things this connector changes about it.

The library builds and signs every request (``build_body``, ``sign_data``:
sorted ``k=v`` joined with ``&``, ``sign`` left out, RSA-SHA256 PKCS#1 v1.5,
base64) and verifies every synchronous answer
(``_verify_and_return_sync_response``: an answer without ``sign``, or whose
signature over the ``*_response`` object does not verify with the Alipay
public key, is never returned). We keep all of that. We change:

1. Importing it must not reconfigure the host's logging. ``alipay/loggers.py``
   calls ``logging.config.dictConfig`` at import time, which (not being
   incremental) closes every handler the application has installed. A
   stand-in ``alipay.loggers`` module with the same ``logger`` is registered
   first, so the import has no side effect; the library logs only in its
   ``verbose`` mode, which we never turn on.
2. The request ``timestamp``. The library writes the server's naive local
   time (``datetime.now()``); Alipay's common request parameter is Beijing
   time, ``yyyy-MM-dd HH:mm:ss`` (Alipay's own SDKs format it in GMT+8), so
   a server on UTC would send a time eight hours off. We write GMT+8 from
   ``checkout.clock`` (which tests can hold still).
3. The network call. The library does ``urlopen(url, timeout=15).read()``:
   a per-socket-operation timeout, no bound on the answer's size or on a
   server that trickles its answer. ``verified_sync_response`` is redefined
   with the same request (GET, the signed query string) read with a deadline
   and a size cap, and every way the call can fail becomes
   ``ProviderUnreachable``; the answer then goes through the library's own
   verification unchanged.
"""

from __future__ import annotations

import http.client
import logging
import sys
import time
import types
from datetime import datetime, timedelta, timezone
from urllib.error import URLError
from urllib.request import Request, urlopen

if "alipay.loggers" not in sys.modules:  # see 1. above
    _quiet = types.ModuleType("alipay.loggers")
    _quiet.logger = logging.getLogger("python-alipay-sdk")
    sys.modules["alipay.loggers"] = _quiet

from alipay import AliPay  # noqa: E402  (after the stand-in above, on purpose)
from alipay.exceptions import AliPayException, AliPayValidationError  # noqa: E402
from alipay.utils import AliPayConfig  # noqa: E402

from ... import clock  # noqa: E402
from .. import ProviderUnreachable  # noqa: E402

# Alipay's answers are a few kilobytes; anything far larger is not Alipay.
MAX_ANSWER_BYTES = 1 << 20
BEIJING = timezone(timedelta(hours=8))   # China keeps no daylight saving time
USER_AGENT = "checkout-alipay-connector"


def beijing_timestamp() -> str:
    """Alipay's ``timestamp`` common parameter: now, GMT+8, to the second."""
    return datetime.fromtimestamp(clock.now_ms() / 1000, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def fetch(url: str, timeout: float) -> str:
    """GET ``url`` and return the body as text, within ``timeout`` seconds
    overall (a trickling answer is cut off at the deadline: each socket wait is
    also bounded by ``timeout``, so the worst case is under twice it).
    Any failure raises ``ProviderUnreachable`` naming no URL (it carries the
    signed query string)."""
    deadline = time.monotonic() + timeout
    try:
        with urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=timeout) as answer:
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError
                chunk = answer.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise ProviderUnreachable("Alipay's answer is implausibly large")
                chunks.append(chunk)
        return b"".join(chunks).decode("utf-8")
    except ProviderUnreachable:
        raise
    except TimeoutError:
        raise ProviderUnreachable(f"Alipay did not answer within {timeout:g} s") from None
    except URLError as error:
        if isinstance(error.reason, TimeoutError):  # the connection itself timed out
            raise ProviderUnreachable(f"Alipay did not answer within {timeout:g} s") from None
        status = getattr(error, "code", None)  # HTTPError: an answer, but not 200
        reason = f"HTTP {status}" if isinstance(status, int) else type(error.reason).__name__
        raise ProviderUnreachable(f"Alipay could not be reached ({reason})") from None
    except UnicodeDecodeError:
        raise ProviderUnreachable("Alipay's answer is not UTF-8 text") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        # A connection reset mid-answer, a bad status line, an unusable URL.
        raise ProviderUnreachable(f"Alipay could not be reached ({type(error).__name__})") \
            from None


class Client(AliPay):
    """python-alipay-sdk's ``AliPay`` (RSA2), pointed at ``gateway_url``, with
    the timestamp and network call described above."""

    def __init__(self, app_id: str, app_private_key: str, alipay_public_key: str, *,
                 gateway_url: str, timeout: float):
        super().__init__(appid=app_id, app_notify_url=None,
                         app_private_key_string=app_private_key,
                         alipay_public_key_string=alipay_public_key,
                         sign_type="RSA2", debug=False, verbose=False,
                         config=AliPayConfig(timeout=timeout))
        # The library picks its gateway from ``debug``; ours is the caller's
        # (Alipay's, or the built-in simulator's).
        self._gateway = gateway_url
        self._timeout = timeout

    @property
    def gateway(self) -> str:
        return self._gateway

    def build_body(self, method, biz_content=None, **kwargs):
        data = super().build_body(method, biz_content, **kwargs)
        data["timestamp"] = beijing_timestamp()
        return data

    def verified_sync_response(self, data, response_type):
        raw = fetch(self._gateway + "?" + self.sign_data(data), self._timeout)
        try:
            return self._verify_and_return_sync_response(raw, response_type)
        except AliPayValidationError:
            raise ProviderUnreachable(
                f"Alipay's answer to {data.get('method')} has a signature that does not "
                "verify with the Alipay public key") from None
        except AliPayException:
            # The library raises this for an answer without ``sign`` (or an
            # ``error_response``): nothing in it can be believed.
            raise ProviderUnreachable(
                f"Alipay's answer to {data.get('method')} is not signed") from None
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            # Not JSON, not an object, the response object missing, bad base64.
            raise ProviderUnreachable(
                f"Alipay's answer to {data.get('method')} is not understood") from None
