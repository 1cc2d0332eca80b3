"""Time as BeeCloud speaks it: integer milliseconds since the epoch.

Code that schedules (bill expiry, webhook retries) takes ``now_ms`` as an
argument where tests need to move time; everything else calls ``now_ms()``.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
