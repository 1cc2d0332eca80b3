"""Card-testing defence (issue 12 item 5): failed card attempts are limited
per order, per shopper IP and per merchant app, over a moving window.

Fraudsters test stolen card numbers where a payment answers at once: the
checkout's card form (``POST /pay/<token>/card``) and the international
API's ``PAYPAL_CREDITCARD``. Both ask ``check`` before a card is tried and
call ``record_failure`` when it fails — its details break a card rule
(``checkout.cards``) or the bank declines it. Successful payments are never
counted, so once a window has room again the shopper can pay.

The counting is the ``limits`` library's moving window
(``MovingWindowRateLimiter``): exact (each failure ages out on its own,
unlike a fixed window that a fraudster can straddle, or the sliding-window
counter's weighted estimate), and its reset time is the real moment the
oldest counted failure leaves the window, which is what "try again in N
minutes" needs. Storage: Redis when ``REDIS_URL`` is set (limits' own
``RedisStorage``), else the app's database (``checkout.rate_limit_storage``);
either way shared by every worker and host, never process memory.

Keys name the order (app id + bill_no), the IP or the app — never a card
number or CVV, which this module does not even receive.

A limit is checked before the card is tried and counted after it failed, so
attempts already in flight when a limit fills still finish: a burst of N
simultaneous attempts can pass a limit by up to N - 1 (N is bounded by the
workers' threads); every attempt after them is refused.

The Flask-Limiter extension (same authors, built on ``limits``) is not
registered: it limits requests through a hook that runs before every request
(about 55 µs each here, measured on a bare Flask app), while what is limited
here are failures, known only after the card was tried, in domain code. Its
``deduct_when`` could count failures, but not per merchant (the app id is
known only once the order or the signed body is read).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import limits
from flask import Flask, current_app
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .db import db
from .rate_limit_storage import DatabaseStorage

log = logging.getLogger(__name__)

ORDER, IP, MERCHANT = "order", "ip", "merchant"
# Scope -> the setting (``checkout.config``) holding its limit.
SETTINGS = {ORDER: "CARD_FAILURES_PER_ORDER", IP: "CARD_FAILURES_PER_IP",
            MERCHANT: "CARD_FAILURES_PER_MERCHANT"}
NAMESPACE = "card-failures"
OFF = "off"
EXTENSION = "card_attempts"
# Card rules (``checkout.cards.Problem.code``) whose failure means no card was
# tried at all: nothing to count.
NOT_TRIED = frozenset({"number_missing", "not_a_map"})


@dataclass(frozen=True)
class Attempt:
    """Who is trying a card: the order, the shopper's IP (None when
    unknown: then only the order and the app are limited) and the app."""

    app_id: str
    bill_no: str
    client_ip: str | None = None

    def identifiers(self) -> dict[str, tuple[str, ...]]:
        found = {ORDER: (NAMESPACE, ORDER, self.app_id, self.bill_no),
                 MERCHANT: (NAMESPACE, MERCHANT, self.app_id)}
        network = ip_key(self.client_ip)
        if network:
            found[IP] = (NAMESPACE, IP, network)
        return found


class TooManyAttempts(Exception):
    """No more card attempts for now. ``retry_in`` seconds until the window
    has room again; ``scope`` is the limit that is full longest."""

    def __init__(self, scope: str, retry_in: float, limit: limits.RateLimitItem):
        super().__init__(f"too many failed card attempts ({scope})")
        self.scope = scope
        self.retry_in = max(0.0, retry_in)
        self.limit = limit

    @property
    def minutes(self) -> int:
        """Whole minutes to wait, rounded up (never 0: "try again in 0
        minutes" would be refused again)."""
        return max(1, math.ceil(self.retry_in / 60))

    @property
    def retry_after(self) -> int:
        """Seconds for an HTTP ``Retry-After`` header."""
        return max(1, math.ceil(self.retry_in))


def ip_key(address: str | None) -> str | None:
    """The IP as counted: an IPv4 address as is; an IPv6 address by its /64,
    which one subscriber gets whole (so rotating addresses inside it does not
    reset the count). None for anything that is not an IP address."""
    if not isinstance(address, str) or not 0 < len(address) <= 64:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def shopper_ip(analysis: object, caller_ip: str | None) -> str | None:
    """The IP to count for an API call: ``analysis.ip``, "客户端客户的ip" (the
    shopper's IP, seed 003 line 643), when the merchant sends a valid one;
    else the address that called."""
    if isinstance(analysis, Mapping) and ip_key(analysis.get("ip")):
        return analysis["ip"].strip()
    return caller_ip


def tried(problem_codes) -> bool:
    """Whether refused card details were a card tried (and so count)."""
    return not any(code in NOT_TRIED for code in problem_codes)


class CardAttempts:
    """The three limits over one ``limits`` storage."""

    def __init__(self, storage: Storage, limits_by_scope: Mapping[str, limits.RateLimitItem],
                 *, clock: Callable[[], float] = time.time):
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)
        self.limits = dict(limits_by_scope)  # scopes that are "off" are absent
        self.clock = clock

    def _each(self, attempt: Attempt):
        identifiers = attempt.identifiers()
        for scope, item in self.limits.items():
            if scope in identifiers:
                yield scope, item, identifiers[scope]

    def check(self, attempt: Attempt) -> None:
        """Raise ``TooManyAttempts`` when any limit has no room for one more
        failure; the wait is the longest of the full ones (the card is
        refused until every limit has room). A storage that cannot be
        reached lets the attempt through (see ``_unavailable``)."""
        try:
            blocked = None
            for scope, item, identifiers in self._each(attempt):
                stats = self.limiter.get_window_stats(item, *identifiers)
                if stats.remaining <= 0:
                    wait = stats.reset_time - self.clock()
                    if blocked is None or wait > blocked.retry_in:
                        blocked = TooManyAttempts(scope, wait, item)
        except StorageError as error:
            _unavailable(error)
            return
        if blocked is not None:
            log.warning("card attempts refused for app %s bill_no %s: the %s limit (%s) is "
                        "full for %d more seconds", attempt.app_id, attempt.bill_no,
                        blocked.scope, blocked.limit, blocked.retry_after)
            raise blocked

    def record_failure(self, attempt: Attempt) -> None:
        """Count one failed card attempt in every limit."""
        try:
            for _scope, item, identifiers in self._each(attempt):
                self.limiter.hit(item, *identifiers)
        except StorageError as error:
            _unavailable(error)

    def clear(self, attempt: Attempt) -> None:
        """Forget an attempt's counts (operators, tests)."""
        for _scope, item, identifiers in self._each(attempt):
            self.limiter.clear(item, *identifiers)


def _unavailable(error: StorageError) -> None:
    # Fail open: a limiter outage must not stop honest shoppers paying (the
    # card rules and the bank's own checks still apply), but say so loudly.
    # The class name only: a connection error may name the server.
    log.error("card attempt limits are unavailable (%s): card payments are NOT being "
              "limited", type(error.storage_error).__name__)


# --- wiring -------------------------------------------------------------------------------

def parse_limits(config: Mapping) -> dict[str, limits.RateLimitItem]:
    """The three settings as ``limits`` items; "off" leaves a scope out. A
    setting limits cannot read stops the app at start with its name."""
    found = {}
    for scope, name in SETTINGS.items():
        value = str(config.get(name) or "").strip()
        if value.lower() == OFF:
            continue
        try:
            item = limits.parse(value)
        except ValueError:
            raise ValueError(f"{name} = {value!r} is not a limit such as '5 per 15 minutes' "
                             f"or '{OFF}'") from None
        if item.amount < 1:
            raise ValueError(f"{name} = {value!r} allows no attempt at all; use '{OFF}' to "
                             "turn the limit off")
        found[scope] = item
    return found


def make_storage(config: Mapping) -> Storage:
    """Redis when ``REDIS_URL`` is set, else the app's database."""
    url = str(config.get("REDIS_URL") or "").strip()
    if url:
        return storage_from_string(url, key_prefix=config.get("REDIS_KEY_PREFIX") or "checkout",
                                   wrap_exceptions=True)
    return DatabaseStorage(engine=lambda: db.engine, wrap_exceptions=True)


def init_app(app: Flask) -> None:
    """Build the limits from the app's settings (``checkout.config``)."""
    app.extensions[EXTENSION] = CardAttempts(make_storage(app.config), parse_limits(app.config))


def current() -> CardAttempts:
    """The current app's limits."""
    return current_app.extensions[EXTENSION]
