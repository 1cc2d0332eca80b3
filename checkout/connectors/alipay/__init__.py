"""Alipay (OpenAPI ``gateway.do``, RSA2) for the ALI_* channels, on
python-alipay-sdk. See ``connector`` for the mapping and ``sdk`` for what is
changed about the library and why."""

from .connector import DEFAULT_TIMEOUT_SECONDS, AlipayConnector

__all__ = ["AlipayConnector", "DEFAULT_TIMEOUT_SECONDS"]
