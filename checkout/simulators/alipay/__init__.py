"""A protocol-faithful simulator of Alipay's OpenAPI ``gateway.do`` (issue 14).

- ``console``: the simulated open platform's console for the operator and the
  CLI (Python, no HTTP): open an app, get its Alipay public key.
- ``views``: ``/simulators/alipay/gateway.do`` and the SANDBOX cashier.
- ``trades``: what each gateway method does to the simulator's trades.
- ``notify``: the async notifications and their retries (``send_due``).
- ``signing``: Alipay's RSA2 strings and signatures.

It imports only ``checkout.db``, ``checkout.clock`` and ``checkout.links``
from the app (tests/test_alipay_simulator.py checks this).
"""
