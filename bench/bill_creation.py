"""Bill creation under load (issue 2, "Measure"; issue 16).

``POST /2/rest/sandbox/bill`` (test mode, signed with the test secret;
``--live``: ``POST /2/rest/bill``, which needs the channel's credentials since
issue 14) against the embedded gateway under gunicorn (Procfile
settings), every request a new bill (unique ``bill_no``, valid ``app_sign``),
at 1, 16 and 64 connections, beside a bare Flask "hello" page on the same
gunicorn settings in the same run. Prints requests/s, p50, p99 and the ratios
to hello; writes ``bench/results/bill_creation-*.json``.

Target (issue 2): p99 below 50 ms at 64 connections on SQLite.

    python bench/bill_creation.py [--duration 10] [--connections 1,16,64]
                                  [--channel ALI_WEB] [--database-url postgresql://…]
                                  [--profile]

``--profile`` samples the workers with py-spy during the run at the highest
concurrency and prints where a request's time goes (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

from bench.harness import (RESULTS, Gunicorn, Instance, Profile, load,  # noqa: E402
                           machine, print_shares, ratio, save, where_time_goes)
from checkout.clock import now_ms  # noqa: E402
from checkout.config import database_uri  # noqa: E402
from checkout.signing import app_sign  # noqa: E402

TARGET_P99_MS = 50.0
# Every answer must be a created bill: BeeCloud result code 0 (seed 001 line 132).
CREATED = '"result_code":%s*0%s*[,}]'


def bill_body(merchant: dict, channel: str, run_tag: str, secret: str = "test"):
    """A body template for one wrk run: signed now, ``{n}`` makes each bill_no
    unique. ``secret``: "test" for the sandbox endpoint (default), "app" for
    live bills (which need the channel's credentials, issue 14)."""
    def body(phase: str) -> str:
        timestamp = now_ms()
        request = {"app_id": merchant["app_id"], "timestamp": timestamp,
                   "app_sign": app_sign(merchant["app_id"], timestamp,
                                        merchant[f"{secret}_secret"]),
                   "channel": channel, "total_fee": 1, "title": "bench bill",
                   "bill_no": f"B{run_tag}{phase}" + "{n}"}
        if channel in ("ALI_WEB", "ALI_QRCODE", "UN_WEB", "JD_WAP", "JD_WEB"):
            request["return_url"] = "http://shop.example.com/return"
        return json.dumps(request, separators=(",", ":"))
    return body


def count_bills(database: str) -> int:
    engine = create_engine(database_uri(database, "") if database.startswith("postgres")
                           else database)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM bills")).scalar_one()
    engine.dispose()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--channel", default="ALI_WEB")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a fresh SQLite file)")
    parser.add_argument("--live", action="store_true",
                        help="POST /2/rest/bill with the app secret (needs channel credentials)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the workers during the highest-concurrency run")
    options = parser.parse_args()
    levels = [int(c) for c in options.connections.split(",")]
    secret, path = ("app", "/2/rest/bill") if options.live else ("test", "/2/rest/sandbox/bill")
    profile_raw = RESULTS / f"bill_creation-profile-{uuid.uuid4().hex[:6]}.txt"
    hot = []

    instance = Instance(options.database_url)
    hello_rows, bill_rows, ratios, counted = [], [], [], 0
    try:
        with Gunicorn("bench.harness:hello_app", ready_path="/hello") as hello, \
                Gunicorn("wsgi:app", instance.env, ready_path="/healthz") as app:
            print(f"gunicorn {app.workers()}; database "
                  f"{'PostgreSQL' if options.database_url else 'SQLite'}; channel {options.channel}")
            for connections in levels:
                baseline = load("hello", hello.url + "/hello", connections=connections,
                                duration=options.duration, expect="^hello$", server=hello)
                body = bill_body(instance.merchant, options.channel, uuid.uuid4().hex[:6],
                                 secret=secret)
                if options.profile and connections == max(levels):
                    RESULTS.mkdir(parents=True, exist_ok=True)
                    # Sampling slows the workers: this run's numbers are the profile's only.
                    with Profile(app, profile_raw, options.duration):
                        load("profiled", app.url + path, connections=connections,
                             duration=options.duration, method="POST", expect=CREATED,
                             warmup=0, body_for_run=bill_body(
                                 instance.merchant, options.channel, uuid.uuid4().hex[:6],
                                 secret=secret))
                    hot = where_time_goes(profile_raw)
                bills = load("POST " + path.split("/")[-2] + " bill", app.url + path,
                             connections=connections, duration=options.duration, method="POST",
                             expect=CREATED, body_for_run=body, server=app)
                counted += bills.requests - bills.wrong
                share = ratio(bills, baseline)
                print(baseline.line())
                print(bills.line())
                print(f"{'ratio':>14} c={connections:<3} throughput {share['throughput_ratio']:.1%} "
                      f"of hello, p99 x{share['p99_ratio']}")
                hello_rows.append(asdict(baseline))
                bill_rows.append(asdict(bills))
                ratios.append(share)
        stored = count_bills(instance.database_uri)
    finally:
        instance.cleanup()

    if hot:
        print_shares(f"where a request's wall time goes at {max(levels)} connections "
                     f"(py-spy, inclusive; raw samples in {profile_raw}):", hot)
    at_64 = next((row for row in bill_rows if row["connections"] == 64), None)
    verdict = None
    if at_64:
        verdict = at_64["p99_ms"] < TARGET_P99_MS
        print(f"target p99 < {TARGET_P99_MS:.0f} ms at 64 connections: "
              f"{'met' if verdict else 'MISSED'} ({at_64['p99_ms']:.1f} ms)")
    # Every answer counted as created must be a bill in the database.
    print(f"bills in the database: {stored} (answers counted as created: {counted})")
    consistent = stored >= counted
    path = save("bill_creation", {
        "machine": machine(), "channel": options.channel,
        "database": "postgresql" if options.database_url else "sqlite",
        "hello": hello_rows, "bill_creation": bill_rows, "ratios": ratios,
        "target_p99_ms_at_64": TARGET_P99_MS, "target_met": verdict,
        "bills_stored": stored, "bills_answered": counted,
        "profile": [{"share": share, "frame": frame} for share, frame in hot]})
    print("saved", path)
    wrong = sum(row["wrong"] for row in bill_rows + hello_rows)
    if wrong or not consistent:
        print(f"INVALID RUN: {wrong} wrong answers; stored {stored} < answered {counted}"
              if not consistent else f"INVALID RUN: {wrong} wrong answers")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
