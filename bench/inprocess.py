"""Where a request's time goes, measured in process (no server, no sockets, no
other load's noise in the counts): ``app.wsgi_app`` called directly.

For each piece of work (a new sandbox bill through ``POST /2/rest/sandbox/bill``;
the checkout's hand-off opening a new bill; the chooser rendered every time)
it reports

- the SQL statements per request (an SQLAlchemy ``before_cursor_execute``
  listener; COMMIT counted apart; statements run on a driver cursor, like a
  new bill's INSERT or a checkout page's read of its order, are not seen):
  these do not depend on the machine's load;
- Python function calls per request (cProfile's count: deterministic too);
- µs per request (wall clock: noisy on a shared machine, compare within a run)
  beside a bare Flask hello called the same way;
- cProfile's top functions by cumulative time.

    python bench/inprocess.py [--database-url postgresql://…] [--requests 500]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.harness import Instance, hello_app  # noqa: E402
from checkout.clock import now_ms  # noqa: E402
from checkout.signing import app_sign  # noqa: E402


def environ(method: str, path: str, body: bytes = b"", content_type: str = "") -> dict:
    return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type,
            "REMOTE_ADDR": "127.0.0.1"}


def call(app, env: dict) -> tuple[str, bytes]:
    status = []
    body = b"".join(app.wsgi_app(env, lambda s, h, exc_info=None: status.append(s)))
    return status[0], body


def bill_request(merchant: dict, bill_no: str) -> dict:
    timestamp = now_ms()
    body = json.dumps({"app_id": merchant["app_id"], "timestamp": timestamp,
                       "app_sign": app_sign(merchant["app_id"], timestamp, merchant["test_secret"]),
                       "channel": "ALI_WEB", "total_fee": 1, "title": "bench bill",
                       "bill_no": bill_no, "return_url": "http://shop.example.com/return"},
                      separators=(",", ":")).encode()
    return environ("POST", "/2/rest/sandbox/bill", body, "application/json")


class Statements:
    """Counts what the app sends to the database."""

    def __init__(self, engine):
        self.count = self.commits = 0
        self.texts: list[str] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, *_args):
        self.count += 1
        if len(self.texts) < 50:
            self.texts.append(" ".join(statement.split())[:110])

    def _commit(self, _conn):
        self.commits += 1


def measure(name: str, app, make_env, n: int, statements: Statements | None = None,
            top: int = 18) -> dict:
    for i in range(20):  # warm the caches (templates, compiled statements, pool)
        status, body = call(app, make_env(f"w{i}"))
        assert status[:3] in ("200", "303"), (status, body[:300])
    if statements:
        statements.count = statements.commits = 0
        statements.texts.clear()
    started = time.perf_counter()
    for i in range(n):
        status, body = call(app, make_env(f"t{i}"))
    elapsed = time.perf_counter() - started
    check = body
    per_statement = None
    if statements:
        per_statement = {"statements": statements.count / n, "commits": statements.commits / n,
                         "sample": statements.texts[:max(1, round(statements.count / n))]}
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n):
        call(app, make_env(f"p{i}"))
    profiler.disable()
    stats = pstats.Stats(profiler)
    calls = stats.total_calls / n
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return {"name": name, "us_per_request": round(elapsed / n * 1e6, 1),
            "python_calls_per_request": round(calls, 1), "sql": per_statement,
            "last_answer": check[:160].decode(errors="replace"),
            "profile": out.getvalue()}


def _orders(app, merchant: dict, count: int) -> list[str]:
    """Tokens of ``count`` new signed checkout orders (``orders.open_order``,
    what ``POST /pay`` calls)."""
    from checkout import orders
    from checkout.db import db
    from checkout.signing import button_sign

    tokens = []
    with app.app_context():
        for _ in range(count):
            fields = {"appId": merchant["app_id"], "title": "Oolong tea", "amount": "199",
                      "out_trade_no": f"i{time.time_ns()}{len(tokens)}"}
            fields["sign"] = button_sign(fields["appId"], fields["title"], 199,
                                         fields["out_trade_no"], merchant["app_secret"])
            tokens.append(orders.open_order(fields).id)
        db.session.remove()
    return tokens


def report(results: list[dict], hello_us: float, hello_calls: float | None = None) -> None:
    if hello_calls is not None:
        print(f"\n== hello: {hello_us} µs/request, {hello_calls} Python calls/request")
    for r in results:
        print(f"\n== {r['name']}: {r['us_per_request']} µs/request "
              f"({hello_us / r['us_per_request']:.1%} of hello's {hello_us} µs), "
              f"{r['python_calls_per_request']} Python calls/request")
        if r["sql"]:
            print(f"   SQL per request: {r['sql']['statements']:.2f} statements, "
                  f"{r['sql']['commits']:.2f} commits")
            for s in r["sql"]["sample"]:
                print("     ", s)


def run(database_url: str | None, n: int, show_profile: bool = True) -> dict:
    instance = Instance(database_url)
    try:
        with instance.environment():
            return _run(instance, n, show_profile)
    finally:
        instance.cleanup()


def _run(instance: Instance, n: int, show_profile: bool) -> dict:
    from checkout import create_app
    from checkout.db import db
    app = create_app({"SIMULATORS": False})
    with app.app_context():
        statements = Statements(db.engine)
    merchant = instance.merchant
    hello = measure("hello", hello_app, lambda tag: environ("GET", "/hello"), n)
    bills = measure("POST /2/rest/sandbox/bill (new bill)", app,
                    lambda tag: bill_request(merchant, f"IP{tag}{time.time_ns() % 10**9}"),
                    n, statements)
    tokens = iter(_orders(app, merchant, 2 * n + 20))
    handoff = measure("GET /pay/<token>/channel/ALI_WEB (hand-off, new bill)", app,
                      lambda tag: environ("GET", f"/pay/{next(tokens)}/channel/ALI_WEB"),
                      n, statements)
    rendered_app = create_app({"SIMULATORS": False, "PAGE_CACHE_SECONDS": 0})
    with rendered_app.app_context():
        rendered_statements = Statements(db.engine)
    [token] = _orders(app, merchant, 1)
    rendered = measure("GET /pay/<token> (chooser rendered, PAGE_CACHE_SECONDS=0)",
                       rendered_app, lambda tag: environ("GET", f"/pay/{token}"), n,
                       rendered_statements)
    results = [bills, handoff, rendered]
    report(results, hello["us_per_request"], hello["python_calls_per_request"])
    print("   (statements run on a driver cursor are not seen by the listener: a new bill's "
          "INSERT … WHERE NOT EXISTS and COMMIT, with the advisory lock before it on "
          "PostgreSQL; a checkout page's one read of its order and merchant version; "
          "the hand-off's UPDATE of its order and COMMIT)")
    if show_profile:
        for r in results:
            print(f"\n-- cProfile, {r['name']} (cumulative):")
            print("\n".join(r["profile"].splitlines()[6:]))
    return {"hello": hello, "work": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    run(options.database_url, options.requests)


if __name__ == "__main__":
    main()
