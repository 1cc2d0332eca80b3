"""Providers' asynchronous notifications for live bills (issue 14).

``POST /notify/<provider>/<app_id>``: the URL each live bill gives its
provider as ``notify_url`` (``live_channels.notify_url``). Alipay posts a
form (its "异步通知") and stops sending only when the answer is exactly
``success``; anything else is answered ``failure`` and changes nothing.
Whether to believe it is decided by ``live_channels.receive_notification``.
"""

from __future__ import annotations

from flask import Blueprint, request

from ..sandbox import live_channels

bp = Blueprint("channel_notify", __name__)
CSRF_EXEMPT = True  # called by the provider's servers; believed only by its signature


@bp.post("/notify/<provider>/<app_id>")
def notification(provider: str, app_id: str):
    fields = request.form.to_dict(flat=True)
    believed = live_channels.receive_notification(provider, app_id, fields)
    return ("success" if believed else "failure"), 200, {"Content-Type": "text/plain"}
