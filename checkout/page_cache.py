"""Rendered checkout pages kept for repeat views of the same checkout.

A shopper's chooser is asked for again and again for one order: a refresh,
the back button from a channel, a second tab, the language switch, the
button's modal opened twice. Rendering it (the order and merchant rows,
channel fitting, coupons, the CSRF token, Jinja with translations) costs
many times what answering an HTTP request does, so each worker process keeps
what it rendered and serves it again while nothing it was made from has
changed.

What a kept page may be served for:

- the same *request*: the ``key`` holds everything of the request the page
  depends on (order token, query string, device, the request's language
  signals — the order's own kept language is data, in its row — framing,
  the address the site is reached at);
- the same *data*: the ``stamp`` holds the ``version`` of every row the page
  was made from (``models.row_version``: the database adds one in every
  UPDATE), read again with one small query on every request
  (``orders.page_stamp``). A page is served only when the stamps are equal,
  so a change made by any worker — a bill opened, a coupon picked, the order
  paid, the merchant's channels edited — shows on the very next request.

So this is a cache, not shared state: every worker may hold its own copy, and
a page dropped (the size bound, ``PAGE_CACHE_SECONDS``, a restart) is just
rendered again. Pages made from data that changes without a row version
(a buyer's coupons, which come and go with time and with payments
elsewhere) are never kept; the caller decides that (``pay.chooser``).

A kept page carries the CSRF token it was rendered with, so the token can be
up to ``PAGE_CACHE_SECONDS`` old; the checkout's tokens do not expire
(``WTF_CSRF_TIME_LIMIT`` is None: they are bound to the order instead).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable

from cachetools import TTLCache

# Rendered pages kept per worker process (a chooser is about 5 KB).
MAX_PAGES = 2048


@dataclass(frozen=True)
class KeptPage:
    stamp: Hashable
    body: bytes
    status: int
    headers: tuple[tuple[str, str], ...]


class PageCache:
    """Pages by key, each kept with the stamp of the data it was made from."""

    def __init__(self, seconds: float, max_pages: int = MAX_PAGES,
                 timer: Callable[[], float] = time.monotonic):
        self.enabled = seconds > 0
        self._pages: TTLCache = TTLCache(maxsize=max_pages, ttl=max(seconds, 1), timer=timer)
        self._lock = threading.Lock()  # TTLCache is not thread-safe; gunicorn runs threads

    def get(self, key: Hashable, stamp: Hashable | None) -> KeptPage | None:
        """The page kept for ``key`` if it was made from data of this ``stamp``."""
        if not self.enabled or stamp is None:
            return None
        with self._lock:
            page = self._pages.get(key)
        return page if page is not None and page.stamp == stamp else None

    def keep(self, key: Hashable, stamp: Hashable, *, body: bytes, status: int,
             headers: list[tuple[str, str]]) -> None:
        if not self.enabled:
            return
        page = KeptPage(stamp, body, status, tuple(headers))
        with self._lock:
            self._pages[key] = page

    def __len__(self) -> int:
        with self._lock:
            return len(self._pages)
