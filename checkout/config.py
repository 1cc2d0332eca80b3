"""Settings: defaults here, overridden by environment variables, then by the
instance folder's ``config.py`` (Flask convention), then by ``create_app(config)``.

Every setting that can come from the environment is listed in ``ENVIRONMENT``
and documented in the README.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path


def family_days(raw: str) -> dict[str, int]:
    """``"ALI=90,WX=365"``: days per channel family (REFUND_WINDOW_DAYS_BY_FAMILY).
    A malformed value stops the app at start-up rather than at the first refund."""
    days: dict[str, int] = {}
    for part in filter(None, (item.strip() for item in raw.split(","))):
        family, sep, count = part.partition("=")
        if not sep or not family.strip().isascii() or not family.strip().isalpha() \
                or not count.strip().isdigit():
            raise ValueError(f"REFUND_WINDOW_DAYS_BY_FAMILY: {part!r} is not FAMILY=DAYS "
                             "(e.g. ALI=90,WX=365)")
        days[family.strip().upper()] = int(count)
    return days


# name -> (converter, default). Defaults that depend on the instance folder are
# filled in by ``load_settings``.
ENVIRONMENT: dict[str, tuple[type, object]] = {
    "SECRET_KEY": (str, None),
    "DATABASE_URL": (str, None),
    # "embedded" (our BeeCloud-compatible sandbox, in process) or "remote".
    "GATEWAY": (str, "embedded"),
    # Base URL of a BeeCloud-REST endpoint, used when GATEWAY=remote.
    "GATEWAY_URL": (str, ""),
    "GATEWAY_CONNECT_TIMEOUT": (float, 3.0),
    "GATEWAY_READ_TIMEOUT": (float, 10.0),
    # Public base URL of this service (used in links sent outside a request,
    # e.g. cashier URLs inside webhooks). Empty: taken from each request.
    "PUBLIC_URL": (str, ""),
    # app_sign timestamps further than this from our clock are refused.
    "APP_SIGN_WINDOW_SECONDS": (int, 900),
    # Largest REST request body we read, in bytes.
    "MAX_CONTENT_LENGTH": (int, 256 * 1024),
    # The longest one webhook attempt may take, connect to last byte.
    "WEBHOOK_TIMEOUT_SECONDS": (float, 10.0),
    # A worker's claim on a delivery lasts WEBHOOK_TIMEOUT_SECONDS plus this:
    # the time to record the outcome and the most the workers' clocks differ
    # (checkout.sandbox.webhooks, "the worker").
    "WEBHOOK_LEASE_MARGIN_SECONDS": (float, 5.0),
    # WeChat hosts; the defaults point at the embedded simulated WeChat.
    "WECHAT_OPEN_URL": (str, ""),
    "WECHAT_API_URL": (str, ""),
    # How many reverse proxies (nginx, a load balancer) stand in front of
    # gunicorn. Their X-Forwarded-For/-Proto/-Host are believed only then:
    # the shopper's IP (WX_WAP's analysis.ip) and the links we build come from
    # them. 0: the headers are ignored, so nobody can spoof them.
    "PROXY_HOPS": (int, 0),
    # How long a worker keeps a rendered chooser page for repeat views of the
    # same checkout (checkout.page_cache; a kept page is served only while the
    # order and merchant rows it was made from are unchanged). 0: never kept.
    "PAGE_CACHE_SECONDS": (int, 600),
    # Card-testing defence (checkout.card_attempts): how many FAILED card
    # attempts (details that break a card rule, or a decline) are allowed in a
    # moving window, in the limits library's notation ("5 per 15 minutes",
    # "10/hour"); "off" turns one off. Counted per order (app + bill_no), per
    # shopper IP and per merchant app, in the card form and the international
    # API's PAYPAL_CREDITCARD alike.
    "CARD_FAILURES_PER_ORDER": (str, "5 per 15 minutes"),
    "CARD_FAILURES_PER_IP": (str, "10 per hour"),
    "CARD_FAILURES_PER_MERCHANT": (str, "50 per hour"),
    # Where those counts live: this Redis (redis://host:6379/0) when set, else
    # the app's own database. Either way every worker and host shares them.
    "REDIS_URL": (str, ""),
    # Put before every key this app writes to Redis, so deployments can share one.
    "REDIS_KEY_PREFIX": (str, "checkout"),
    # Refunds (checkout.sandbox.refunds): how many days after its payment a
    # bill may still be refunded (10 REFUND_EXCEED_TIME after that), and
    # per channel family overrides as FAMILY=DAYS pairs. Alipay's refunds of
    # BeeCloud's time were limited to 3 months; WeChat Pay's to a year.
    "REFUND_WINDOW_DAYS": (int, 365),
    "REFUND_WINDOW_DAYS_BY_FAMILY": (family_days, {"ALI": 90}),
    # How long a refund to a channel whose real refunds finish later (WX, YEE,
    # KUAIQIAN, BD: seed 001 §9) stays PROCESSING before the worker completes
    # it; other channels' refunds complete in the request itself.
    "REFUND_SETTLE_SECONDS": (float, 5.0),
    # Serve the demo storefront and demo webhook receiver under /demo.
    "DEMO": (bool, False),
    # Serve the protocol-faithful provider simulators under /simulators
    # (checkout.simulators: Alipay's gateway.do and its cashier). For the demo,
    # tests and development only: never in production.
    "SIMULATORS": (bool, False),
    # Channel credentials (BeeCloud's 支付要素, checkout.credentials) are
    # stored encrypted with this Fernet key (32 url-safe base64 bytes, e.g.
    # from `python -c "from cryptography.fernet import Fernet;
    # print(Fernet.generate_key().decode())"`). Empty: one is made once and
    # kept in the instance folder (instance_credentials_key), which serves one
    # host; several hosts sharing one PostgreSQL must all be given the same key.
    "CREDENTIALS_KEY": (str, ""),
    # Earlier keys, comma-separated, still accepted for decrypting during a key
    # rotation (`flask --app wsgi merchants rotate-credentials-key` then
    # re-encrypts every row with CREDENTIALS_KEY, and these can be removed).
    "CREDENTIALS_OLD_KEYS": (str, ""),
    "LOG_LEVEL": (str, "INFO"),
}


def _convert(kind: type, raw: str):
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def from_environment(environ=None) -> dict:
    environ = os.environ if environ is None else environ
    settings = {}
    for name, (kind, default) in ENVIRONMENT.items():
        raw = environ.get(name)
        settings[name] = _convert(kind, raw) if raw not in (None, "") else default
    return settings


def instance_secret_key(instance_path: str) -> str:
    """A SECRET_KEY kept in the instance folder so sessions survive restarts and
    every gunicorn worker signs with the same key."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def instance_credentials_key(instance_path: str) -> str:
    """A CREDENTIALS_KEY kept in the instance folder (mode 0600), made once so
    every gunicorn worker encrypts and decrypts channel credentials with the
    same key. Written to a temporary file and linked into place, so a worker
    racing another never reads a half-written key: the first link wins and
    every worker reads the winner's key."""
    path = Path(instance_path) / "credentials_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"credentials_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                # What Fernet.generate_key() makes: 32 random bytes, url-safe base64.
                handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def database_uri(url: str | None, instance_path: str) -> str:
    """SQLite file in the instance folder unless DATABASE_URL says otherwise.
    ``postgres://`` and ``postgresql://`` URLs are served by psycopg 3."""
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "checkout.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# Connections kept per process: one per gunicorn thread (the Procfile runs 8)
# and a few for the webhook worker and CLI, so no request opens its own.
POOL_SIZE = 10


def engine_options(uri: str) -> dict:
    """SQLAlchemy engine options. A pooled PostgreSQL connection may have been
    dropped by the server, so it is pinged before use when it has been idle
    (``db.ping_when_idle``, not SQLAlchemy's ``pool_pre_ping``, which pings
    before every use: a round trip per request); a SQLite file cannot go
    away, so its ping would only cost a query per request."""
    if uri.startswith("sqlite"):
        return {"pool_size": POOL_SIZE} if ":memory:" not in uri and uri != "sqlite://" else {}
    # psycopg prepares a statement after its fifth use on a connection, and
    # after every ROLLBACK (a read-only request's connection going back to
    # the pool) sends DEALLOCATE ALL: one more round trip for most requests,
    # and the statements prepared again. Its automatic preparing is off
    # (issue 16).
    return {"pool_size": POOL_SIZE, "connect_args": {"prepare_threshold": None}}
