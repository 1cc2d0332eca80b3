"""Issue 16 in one command: bills, the checkout's hand-off and the chooser's
first view against hello, on SQLite and on PostgreSQL, with the connections'
split over the workers, 1 → 2 workers, and where the time goes.

    python bench/all.py                      # both databases, 3 rounds, 64 connections
    python bench/all.py --rounds 5 --duration 10 --connections 16,64
    python bench/all.py --databases sqlite   # or postgresql
    python bench/all.py --pg-url postgresql://postgres@127.0.0.1:5432/postgres

Per database: a fresh database (SQLite: a file; PostgreSQL: a database
``bench_<random>`` made on the server at ``--pg-url`` and dropped after), one
merchant, and these gunicorn servers, all with the Procfile's settings:

- ``hello``: the bare Flask page (the baseline of every ratio);
- ``app``: the checkout (2 workers), loaded with
  ``POST /2/rest/sandbox/bill`` (a new test-mode bill per request, signed with
  the test secret: the coordinator's live mode answers 2 PAY_FACTOR_NOT_SET for
  a channel without credentials) and with the hand-off
  ``GET /pay/<token>/channel/ALI_WEB`` (one prepared order per request, so
  each opens a new bill through the checkout; bench/handoff.lua);
- ``rendered``: the checkout with ``PAGE_CACHE_SECONDS=0``: ``GET /pay/<token>``
  renders the chooser every time (a shopper's first view);
- ``app1``/``hello1``: the same with ``WEB_CONCURRENCY=1``: bills/s with 1 and
  2 workers (the issue asks ×1.6 on PostgreSQL).

Every round loads each server once, side by side; ratios are taken within a
round and the median over the rounds is reported (the machine's speed drifts).
Each result shows wrk's connections per worker ("split"). A run is INVALID
(exit 1) if any answer was wrong or fewer bills are stored than answered.

Pinning: ``BENCH_WRK_CPUS`` / ``BENCH_SERVER_CPUS`` (``taskset -c`` lists) keep
wrk off the servers' cores; on a machine with 3 or more CPUs this script sets
them itself (wrk on the last CPU, servers on the others) unless they are set.
On 2 CPUs nothing is pinned (both workers need both cores): say so when quoting.

Profiles: ``bench/inprocess.py`` runs each piece of work in process (no
server) and prints SQL statements per request, Python calls per request
(deterministic) and cProfile's top functions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench import inprocess  # noqa: E402
from bench.bill_creation import CREATED, bill_body, count_bills  # noqa: E402
from bench.chooser import CHOOSER_MARK, _without_csrf, open_order  # noqa: E402
from bench.harness import ROOT, Gunicorn, Instance, load, machine, ratio, save  # noqa: E402
from checkout.signing import button_sign  # noqa: E402

HANDOFF_SCRIPT = ROOT / "bench" / "handoff.lua"
TARGET_RATIO, TARGET_P99, TARGET_SCALING = 0.40, 3.0, 1.6


# --- databases ---------------------------------------------------------------------------

class PostgresDatabase:
    """A database of its own on the server, dropped afterwards."""

    def __init__(self, server_url: str):
        self.admin_url = server_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.name = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = server_url.rsplit("/", 1)[0] + "/" + self.name

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


# --- prepared orders for the hand-off -----------------------------------------------------

class Orders:
    """Signed checkout orders made in process on the bench's database (the
    same ``orders.open_order`` as ``POST /pay``), their tokens in a file per
    wrk run: every hand-off request opens the bill of an order nobody used."""

    def __init__(self, instance: Instance, merchant: dict):
        self.merchant = merchant
        self.folder = Path(tempfile.mkdtemp(prefix="bench-orders-"))
        with instance.environment():
            from checkout import create_app
            self.app = create_app({"SIMULATORS": False})

    def tokens_file(self, count: int) -> Path:
        from checkout import orders
        from checkout.db import db

        tokens = []
        with self.app.app_context():
            for _ in range(count):
                fields = {"appId": self.merchant["app_id"], "title": "Oolong tea",
                          "amount": "199", "out_trade_no": f"h{uuid.uuid4().hex[:20]}"}
                fields["sign"] = button_sign(fields["appId"], fields["title"], 199,
                                             fields["out_trade_no"], self.merchant["app_secret"])
                tokens.append(orders.open_order(fields).id)
            db.session.remove()
        path = self.folder / f"{uuid.uuid4().hex[:8]}.txt"
        path.write_text("\n".join(tokens) + "\n")
        return path


# --- one database -------------------------------------------------------------------------

def _times(ratio: float | None) -> str:
    """A p99 ratio as the summary prints it."""
    return "–" if ratio is None else f"×{ratio:.2f}"


def run_database(kind: str, url: str | None, options) -> dict:
    instance = Instance(url)
    merchant = instance.merchant
    orders = Orders(instance, merchant)
    out = {"database": kind, "levels": []}
    answered_bills = 0
    try:
        env = instance.env
        with Gunicorn("bench.harness:hello_app", ready_path="/hello") as hello, \
                Gunicorn("wsgi:app", env, ready_path="/healthz") as app, \
                Gunicorn("wsgi:app", {**env, "PAGE_CACHE_SECONDS": "0"},
                         ready_path="/healthz") as rendered, \
                Gunicorn("bench.harness:hello_app", {"WEB_CONCURRENCY": "1"},
                         ready_path="/hello") as hello1, \
                Gunicorn("wsgi:app", {**env, "WEB_CONCURRENCY": "1"},
                         ready_path="/healthz") as app1:
            chooser_url = open_order(app.url, merchant)
            rendered_url = rendered.url + urlsplit(chooser_url).path
            if _without_csrf(httpx.get(rendered_url, timeout=10).content) != \
                    _without_csrf(httpx.get(chooser_url, timeout=10).content):
                raise RuntimeError("the cached and the rendered chooser differ")
            wrk_cpus = os.environ.get("BENCH_WRK_CPUS")
            print(f"\n=== {kind}: gunicorn {app.workers()}"
                  + (f" (wrk on CPUs {wrk_cpus})" if wrk_cpus else " (nothing pinned)"))
            for connections in options.levels:
                threads = 1 if connections < 4 else 2
                rounds, prepared = [], {}
                for number in range(1, options.rounds + 1):
                    def bills(server, name):
                        return load(name, server.url + "/2/rest/sandbox/bill",
                                    connections=connections, duration=options.duration,
                                    method="POST", expect=CREATED, server=server,
                                    body_for_run=bill_body(merchant, "ALI_WEB",
                                                           uuid.uuid4().hex[:6], secret="test",
                                                           ))

                    def handoff_args(phase):
                        # Enough fresh orders for this run (or the 1 s warm-up).
                        seconds = 1.0 if phase == "w" else max(1.0, options.duration)
                        count = int(options.handoff_rate * seconds)
                        prepared[phase] = count
                        return ["/pay/", "/channel/ALI_WEB", str(orders.tokens_file(count)),
                                str(threads)]

                    found = {
                        "hello": load("hello", hello.url + "/hello", connections=connections,
                                      duration=options.duration, expect="^hello$", server=hello),
                        "bill": bills(app, "sandbox bill"),
                        "handoff": load("hand-off", app.url, connections=connections,
                                        duration=options.duration, server=app,
                                        script=Path(HANDOFF_SCRIPT), script_args=handoff_args),
                        "rendered": load("chooser 1st", rendered_url, connections=connections,
                                         duration=options.duration, expect=CHOOSER_MARK,
                                         server=rendered),
                        "hello1": load("hello 1 wkr", hello1.url + "/hello",
                                       connections=connections, duration=options.duration,
                                       expect="^hello$", server=hello1),
                        "bill1": bills(app1, "bill 1 worker"),
                    }
                    handed = found["handoff"]
                    if handed.requests > prepared[f"r{handed.retries}"]:
                        print(f"WARNING: the hand-off ran out of fresh orders "
                              f"({handed.requests} requests, {prepared[f'r{handed.retries}']} "
                              "orders): raise --handoff-rate")
                    answered_bills += sum(found[k].requests - found[k].wrong
                                          for k in ("bill", "bill1"))
                    print(f"-- {kind}, {connections} connections, round {number}/{options.rounds}")
                    for result in found.values():
                        print(result.line())
                    rounds.append(found)
                out["levels"].append(summarise(connections, rounds))
        out["bills_stored"] = count_bills(instance.database_uri)
        out["bills_answered"] = answered_bills
    finally:
        instance.cleanup()
    return out


def summarise(connections: int, rounds: list[dict]) -> dict:
    def median_of(work: str, baseline: str) -> dict:
        each = [ratio(r[work], r[baseline]) for r in rounds]
        values = [e["throughput_ratio"] for e in each]
        p99s = [e["p99_ratio"] for e in each if e["p99_ratio"] is not None]
        return {"throughput_ratio": median(values), "low": min(values), "high": max(values),
                "p99_ratio": median(p99s) if p99s else None}

    scaling = [r["bill"].requests_per_s / r["bill1"].requests_per_s for r in rounds
               if r["bill1"].requests_per_s]
    hello_scaling = [r["hello"].requests_per_s / r["hello1"].requests_per_s for r in rounds
                     if r["hello1"].requests_per_s]
    return {
        "connections": connections,
        "bill": median_of("bill", "hello"), "handoff": median_of("handoff", "hello"),
        "rendered": median_of("rendered", "hello"),
        "bill_scaling_1_to_2": median(scaling) if scaling else None,
        "hello_scaling_1_to_2": median(hello_scaling) if hello_scaling else None,
        "requests_per_s": {k: median(r[k].requests_per_s for r in rounds) for k in rounds[0]},
        "p99_ms": {k: median(r[k].p99_ms for r in rounds) for k in rounds[0]},
        "splits": {k: [r[k].split for r in rounds] for k in rounds[0]},
        "cpu": {k: _median_cpu([r[k] for r in rounds]) for k in rounds[0]},
        "wrong": sum(r[k].wrong for r in rounds for k in r),
        "rounds": [{k: asdict(v) for k, v in r.items()} for r in rounds],
    }


def _median_cpu(results: list) -> dict:
    """The rounds' median CPU per request of one load (harness.CpuMeter)."""
    out = {}
    for key in ("server_cpu_us", "machine_busy_us", "idle_share"):
        values = [getattr(r, key) for r in results if getattr(r, key) is not None]
        out[key] = median(values) if values else None
    return out


def verdict(value, target, *, at_most=False) -> str:
    if value is None:
        return "n/a"
    met = value <= target if at_most else value >= target
    return "met" if met else "MISSED"


def print_table(result: dict) -> None:
    db = result["database"]
    print(f"\n## {db}: medians of the rounds (lowest–highest round)\n")
    print("| conns | hello req/s (p99) | what | req/s (p99) | ÷ hello | p99 ÷ hello's | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for level in result["levels"]:
        rps, p99 = level["requests_per_s"], level["p99_ms"]
        base = f"{rps['hello']:,.0f} ({p99['hello']:.0f} ms)"
        for key, name in (("bill", "POST /2/rest/sandbox/bill"),
                          ("handoff", "hand-off GET /pay/<t>/channel/ALI_WEB"),
                          ("rendered", "chooser first view (rendered)")):
            r = level[key]
            target = (f"≥40 %: {verdict(r['throughput_ratio'], TARGET_RATIO)}"
                      + (f"; p99 ≤3×: {verdict(r['p99_ratio'], TARGET_P99, at_most=True)}"
                         if key != "rendered" else ""))
            print(f"| {level['connections']} | {base} | {name} | {rps[key]:,.0f} "
                  f"({p99[key]:.0f} ms) | {r['throughput_ratio']:.1%} "
                  f"({r['low']:.1%}–{r['high']:.1%}) | {_times(r['p99_ratio'])} | {target} |")
        print(f"| {level['connections']} | | bills/s 1 → 2 workers | "
              f"{rps['bill1']:,.0f} → {rps['bill']:,.0f} | ×{level['bill_scaling_1_to_2']:.2f} "
              f"(hello ×{level['hello_scaling_1_to_2']:.2f}) | | ≥×1.6: "
              f"{verdict(level['bill_scaling_1_to_2'], TARGET_SCALING)} |")
    for level in result["levels"]:
        cpu = level["cpu"]
        if cpu["hello"]["server_cpu_us"] is None:
            continue
        hello_cpu = cpu["hello"]["server_cpu_us"]
        print(f"\nCPU per request under the load ({level['connections']} connections, medians): "
              "the gunicorn workers' own, and the whole machine's (wrk, the database, the "
              "kernel)\n")
        print("| load | server µs/req | ÷ hello's | machine busy µs/req | machine idle |")
        print("| --- | --- | --- | --- | --- |")
        for key, found in cpu.items():
            if found["server_cpu_us"] is None:
                continue
            print(f"| {key} | {found['server_cpu_us']:,.0f} | "
                  f"×{found['server_cpu_us'] / hello_cpu:.2f} | "
                  f"{found['machine_busy_us']:,.0f} | {found['idle_share']:.0%} |")
    last = result["levels"][-1]["splits"]
    print("\nconnections per worker (busiest first), per round: "
          + "; ".join(f"{k} {' '.join('/'.join(map(str, s)) or '-' for s in v)}"
                      for k, v in last.items()))
    print(f"bills stored {result['bills_stored']}, answered as created "
          f"{result['bills_answered']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server's URL (a bench database is made there)")
    parser.add_argument("--connections", default="64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--handoff-rate", type=float, default=1500,
                        help="orders prepared per second of hand-off load (default 1500; "
                             "a run that needs more says so)")
    parser.add_argument("--no-profile", action="store_true")
    options = parser.parse_args()
    options.levels = [int(c) for c in options.connections.split(",")]
    cpus = os.cpu_count() or 1
    if cpus >= 3 and not os.environ.get("BENCH_WRK_CPUS"):
        os.environ["BENCH_WRK_CPUS"] = str(cpus - 1)
        os.environ.setdefault("BENCH_SERVER_CPUS", f"0-{cpus - 2}")

    results, profiles = [], {}
    for kind in options.databases.split(","):
        database = PostgresDatabase(options.pg_url) if kind == "postgresql" else None
        try:
            results.append(run_database(kind, database.url if database else None, options))
            if not options.no_profile:
                print(f"\n=== where the time goes on {kind} (in process, no server)")
                profiles[kind] = inprocess.run(database.url if database else None, 300)
        finally:
            if database:
                database.drop()
    print("\n# Summary (issue 16 targets at each concurrency)")
    for result in results:
        print_table(result)
    path = save("all", {"machine": machine(), "results": results,
                        "profiles": {k: {"hello_us": v["hello"]["us_per_request"],
                                         "work": [{x: w[x] for x in w if x != "profile"}
                                                  for w in v["work"]]}
                                     for k, v in profiles.items()},
                        "pinned": {k: os.environ.get(k) for k in
                                   ("BENCH_WRK_CPUS", "BENCH_SERVER_CPUS")}})
    print("\nsaved", path)
    wrong = sum(level["wrong"] for r in results for level in r["levels"])
    short = [r["database"] for r in results if r["bills_stored"] < r["bills_answered"]]
    if wrong or short:
        print(f"INVALID RUN: {wrong} wrong answers; fewer bills stored than answered: {short}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
