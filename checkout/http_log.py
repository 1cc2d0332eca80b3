"""httpx logs every request URL at INFO. Some of our outgoing URLs carry
credentials in the query string: the BeeCloud ``para=`` (an app_sign,
replayable for the signing window) and WeChat's token call (``secret=``, and
the one-time ``code=``). This filter cuts their values out of those lines."""

from __future__ import annotations

import logging
import re

import httpx

_SECRET_QUERY = re.compile(r"\b(para|secret|code)=[^&\s\"']*")


def _redact(text: str) -> str:
    return _SECRET_QUERY.sub(lambda match: f"{match.group(1)}=[redacted]", text)


class RedactQuerySecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) if isinstance(arg, str)
                                else _redact(str(arg)) if isinstance(arg, httpx.URL) else arg
                                for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def install() -> None:
    """Add the filter to httpx's logger once."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, RedactQuerySecrets) for f in httpx_log.filters):
        httpx_log.addFilter(RedactQuerySecrets())
