"""The embedded BeeCloud-compatible gateway (the sandbox): bills, simulated
channel cashiers, and signed webhooks, exposed both in process (to
``checkout.gateway.embedded``) and as the BeeCloud REST API."""
