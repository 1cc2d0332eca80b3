"""Instructions per request, counted by valgrind's callgrind: the same number
on a quiet machine and on a busy one, so a change's effect can be seen even
where the load tests' rounds spread by a third (bench/README.md, the fifth stop).

Each piece of work is called in process (``app.wsgi_app``, as in
``bench/inprocess.py``: hello, a new REST bill, the hand-off, the chooser
rendered every time) by a child Python run under callgrind, once with
``--base`` requests of every kind and once more per kind with ``--requests``
more of it; the difference over the extra requests is that kind's cost per
request. What it counts: the instructions the process executes in user space
(Python, SQLite, the C libraries). What it cannot count: time in the kernel
(syscalls, network), waiting, cache misses, and anything in another process
(PostgreSQL's backend), so it says how much work a request's own code does,
not how fast a served request is. SQLite only (a PostgreSQL backend's work is
in another process).

    python bench/instructions.py [--requests 400] [--base 40] [--parallel 2]

Needs ``valgrind`` (Debian package). About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ROOT, Instance, save  # noqa: E402

KINDS = ("hello", "bill", "handoff", "chooser")


def child(counts: dict[str, int], orders: int) -> None:
    """Run ``counts[kind]`` requests of each kind (after the same warm-up);
    ``orders``: hand-off orders made beforehand, the same in every run."""
    from checkout import sqlite_wal

    instance = Instance(None)
    # The checkpointing thread wakes by the wall clock, which valgrind slows
    # by ~50×: how many of its rounds fall inside a run would vary.
    period, sqlite_wal._CHECKPOINTER.seconds = sqlite_wal._CHECKPOINTER.seconds, 3600
    try:
        with instance.environment():
            _requests(instance, counts, orders)
    finally:
        sqlite_wal._CHECKPOINTER.seconds = period
        instance.cleanup()


def _requests(instance, counts: dict[str, int], orders: int) -> None:
    """The requests of ``child``, in the instance's environment."""
    from bench.harness import hello_app
    from bench.inprocess import _orders, bill_request, call, environ
    from checkout import create_app

    app = create_app({"SIMULATORS": False, "PAGE_CACHE_SECONDS": 0})
    merchant = instance.merchant
    tokens = iter(_orders(app, merchant, orders))
    [chooser_token] = _orders(app, merchant, 1)
    work = {
        "hello": (hello_app, lambda i: environ("GET", "/hello")),
        "bill": (app, lambda i: bill_request(merchant, f"INSTR{i:010d}")),
        "handoff": (app, lambda i: environ("GET", f"/pay/{next(tokens)}/channel/ALI_WEB")),
        "chooser": (app, lambda i: environ("GET", f"/pay/{chooser_token}")),
    }
    number = 0
    for kind in KINDS:
        target, make = work[kind]
        for _ in range(10 + counts[kind]):  # 10 warm-up requests each, in both runs
            number += 1
            status, body = call(target, make(number))
            if status[:3] not in ("200", "303") or (kind == "bill"
                                                    and b'"result_code":0' not in body):
                raise SystemExit(f"{kind}: {status} {body[:200]!r}")


def counted(counts: dict[str, int], orders: int, folder: Path) -> int:
    """Instructions of one child run."""
    out = folder / ("callgrind-" + "-".join(str(counts[k]) for k in KINDS) + ".out")
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, __file__, "--child", json.dumps({"counts": counts, "orders": orders})],
        cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"callgrind run failed:\n{done.stderr[-3000:]}")
    match = re.search(r"^summary: (\d+)", out.read_text(errors="replace"), re.M)
    if match is None:
        raise RuntimeError(f"no summary in {out}")
    return int(match.group(1))


def measure(requests: int, base: int, parallel: int) -> dict[str, float]:
    runs = {"base": {kind: base for kind in KINDS}}
    for kind in KINDS:
        runs[kind] = {k: base + (requests if k == kind else 0) for k in KINDS}
    folder = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    try:
        with ThreadPoolExecutor(parallel) as pool:
            orders = base + requests + 10
            totals = dict(zip(runs, pool.map(lambda c: counted(c, orders, folder),
                                             runs.values())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {kind: (totals[kind] - totals["base"]) / requests for kind in KINDS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--base", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(**json.loads(options.child))
        return 0
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is missing: apt-get install -y valgrind")
    started = time.monotonic()
    per_request = measure(options.requests, options.base, options.parallel)
    hello = per_request["hello"]
    print(f"instructions per request (callgrind, SQLite, {options.requests} requests "
          f"over a base of {options.base}; {time.monotonic() - started:.0f} s):")
    print("| work | instructions | ÷ hello's |\n| --- | --- | --- |")
    for kind in KINDS:
        print(f"| {kind} | {per_request[kind]:,.0f} | ×{per_request[kind] / hello:.2f} |")
    print(f"saved {save('instructions', {'requests': options.requests, 'base': options.base, 'per_request': per_request})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
