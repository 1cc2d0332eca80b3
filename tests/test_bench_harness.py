"""The benchmark harness measures what it says: gunicorn as the Procfile runs
it, and wrk counting every answer that is not the expected one."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (LOPSIDED_RETRIES, Gunicorn, hello_app, load,  # noqa: E402
                           procfile_gunicorn_args, where_time_goes)

needs_wrk = pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")


def test_gunicorn_runs_with_the_procfiles_settings_on_our_port(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: gunicorn --worker-class gthread --workers ${WEB_CONCURRENCY:-3} "
                        "--threads 8 --bind 0.0.0.0:${PORT:-5000} wsgi:app\nworker: flask x\n")

    args = procfile_gunicorn_args("bench.harness:hello_app", 4321, procfile)

    assert args[1:] == ["-m", "gunicorn", "--worker-class", "gthread", "--workers", "3",
                        "--threads", "8", "--bind", "127.0.0.1:4321", "bench.harness:hello_app"]


def test_the_baseline_says_hello():
    assert hello_app.test_client().get("/hello").data == b"hello"


@needs_wrk
def test_wrong_answers_are_counted():
    with Gunicorn("bench.harness:hello_app", ready_path="/hello") as server:
        right = load("hello", server.url + "/hello", connections=2, duration=1, warmup=0,
                     expect="^hello$")
        wrong = load("hello", server.url + "/hello", connections=2, duration=1, warmup=0,
                     expect="^goodbye$")
        missing = load("hello", server.url + "/nowhere", connections=2, duration=1, warmup=0)

    assert right.requests > 0 and right.wrong == 0
    assert right.p50_ms <= right.p99_ms <= right.max_ms
    assert wrong.wrong == wrong.requests > 0
    assert missing.wrong == missing.requests > 0


@needs_wrk
@pytest.mark.skipif(not shutil.which("ss"), reason="ss (iproute2) is not installed")
def test_a_load_says_how_its_connections_fell_on_the_workers():
    with Gunicorn("bench.harness:hello_app", ready_path="/hello") as server:
        result = load("hello", server.url + "/hello", connections=8, duration=2, warmup=0,
                      expect="^hello$", server=server)

    assert len(result.split) == 2  # the Procfile's two workers
    assert sum(result.split) == 8
    # A run with more than 3/4 of the connections on one worker was retried.
    assert result.split[0] <= 6 or result.retries == LOPSIDED_RETRIES


def test_where_time_goes_shares_request_samples_by_frame(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "_worker (x.py:1);handle_request (gunicorn/workers/gthread.py:2);"
        "open_bill (checkout/sandbox/bills.py:3);do_execute (sqlalchemy/default.py:4) 3\n"
        "_worker (x.py:1);handle_request (gunicorn/workers/gthread.py:2);"
        "get_merchant (checkout/merchants.py:9) 1\n"
        "_worker (x.py:1);select (selectors.py:5) 50\n")

    shares = dict((frame, share) for share, frame in where_time_goes(raw))

    assert shares == {"open_bill (checkout/sandbox/bills.py)": 0.75,
                      "do_execute (sqlalchemy/default.py)": 0.75,
                      "get_merchant (checkout/merchants.py)": 0.25}


def test_the_template_baseline_renders_a_page_about_the_asked_size():
    from bench.chooser import page_app

    answer = page_app.test_client().get("/page")

    assert answer.status_code == 200
    assert b'data-testid="item-' in answer.data
    assert abs(len(answer.data) - 4000) < 400  # BENCH_PAGE_BYTES' default


def test_the_transfer_count_finds_what_a_page_makes_a_browser_fetch():
    from bench.chooser import _css_references, _References

    found = _References()
    found.feed('<link rel="stylesheet" href="/a.css"><link rel="icon" href="/i.png">'
               '<link rel="canonical" href="/x"><script src="/a.js" defer></script>'
               '<script>inline()</script><img src="/b.png" srcset="/b2.png 2x, /b3.png 3x">'
               '<div style="background: url(/c.svg)"></div><style>p{background:url("/d.png")}'
               '</style>')

    assert found.found == [("css", "/a.css"), ("icon", "/i.png"), ("js", "/a.js"),
                           ("img", "/b.png"), ("img", "/b2.png"), ("img", "/b3.png")]
    assert [ref for css in found.inline_css for ref in _css_references(css)] == \
        ["/c.svg", "/d.png"]
    assert _css_references("/* url(/no.png) */ @import 'e.css'; "
                           "@font-face{src:url('f.woff2')} a{b:url(data:x)}") == \
        ["f.woff2", "data:x", "e.css"]


def test_cpu_samples_are_counted_once_by_kind(tmp_path):
    from bench.chooser import time_by_kind

    raw = tmp_path / "raw.txt"
    raw.write_text(
        "w (x.py:1);handle_request (gunicorn/workers/gthread.py:2);chooser (checkout/web/pay.py:3);"
        "get_order (checkout/orders.py:4);execute (sqlalchemy/orm/session.py:5) 2\n"
        "w (x.py:1);handle_request (gunicorn/workers/gthread.py:2);root (chooser.html:1);"
        "gettext (flask_babel/__init__.py:9) 1\n"
        "w (x.py:1);handle_request (gunicorn/workers/gthread.py:2);"
        "save_session (flask/sessions.py:3);dumps (itsdangerous/serializer.py:4) 1\n"
        "w (x.py:1);select (selectors.py:5) 50\n")

    assert dict((kind, share) for share, kind in time_by_kind(raw)) == {
        "database (SQLAlchemy ORM, sqlite3)": 0.5, "translations, locale (Babel)": 0.25,
        "session cookie + CSRF token": 0.25}


def test_browser_timings_are_moved_to_the_click():
    from bench.button import phases, summary

    moved = phases({"redirectEnd": 20.0, "requestStart": 21.0, "responseStart": 30.0,
                    "responseEnd": 31.0, "cssEnd": 50.0, "domContentLoaded": 60.0,
                    "firstContentfulPaint": None}, 10.0, 75.0)

    assert moved == {"navigation": 10.0, "visible": 75.0, "redirectEnd": 30.0,
                     "requestStart": 31.0, "responseStart": 40.0, "responseEnd": 41.0,
                     "cssEnd": 60.0, "domContentLoaded": 70.0, "firstContentfulPaint": None}
    assert summary([5, 1, 4, 2, 3, 6, 7, 8, 9, 10]) == {
        "n": 10, "median_ms": 5.5, "p90_ms": 9, "min_ms": 1, "max_ms": 10}


def test_a_round_that_stayed_lopsided_is_left_out_of_the_chooser_medians():
    from bench.chooser import summarise
    from bench.harness import Result

    def result(name, per_s, split):
        return Result(name=name, connections=64, duration_s=1, requests=per_s,
                      requests_per_s=per_s, p50_ms=1, p99_ms=2, max_ms=3, wrong=0, split=split)

    def round_of(hello_split):
        return {"hello": result("hello", 1000 if hello_split == [32, 32] else 500, hello_split),
                "page": result("page", 800, [32, 32]),
                "chooser": result("chooser", 600, [33, 31]),
                "rendered": result("rendered", 100, [])}

    level = summarise(64, [round_of([32, 32]), round_of([64, 0]), round_of([32, 32])])

    assert level["rounds_left_out"] == 1
    assert level["to_hello"]["throughput_ratio"] == 0.6
    assert level["to_hello"]["high"] == 0.6  # not 1.2 from the one-worker hello


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")
def test_cpu_seconds_count_a_process_own_work():
    from bench.harness import cpu_seconds, machine_seconds

    before, (every, idle) = cpu_seconds([os.getpid()]), machine_seconds()
    spent = time.process_time()
    while time.process_time() - spent < 0.05:
        pass  # burn 50 ms of this process's CPU
    after, (every_after, idle_after) = cpu_seconds([os.getpid()]), machine_seconds()

    assert after - before >= 0.03  # clock ticks are 10 ms
    assert every_after > every and idle_after >= idle
    assert cpu_seconds([2 ** 22 + 1]) == 0  # no such process


@needs_wrk
def test_a_load_on_a_known_server_says_its_cpu_per_request():
    with Gunicorn("bench.harness:hello_app", ready_path="/hello") as server:
        result = load("hello", server.url + "/hello", connections=2, duration=1, warmup=0,
                      expect="^hello$", server=server)

    assert result.server_cpu_us > 0 and result.machine_busy_us > 0
    assert 0 <= result.idle_share <= 1
    assert "CPU/req: server" in result.line()


def test_the_instruction_count_runs_every_kind_of_request_correctly():
    # The child of bench/instructions.py, without valgrind: each kind answers
    # as it must (a bill with result_code 0), or the child stops with why.
    from bench import instructions

    before = dict(os.environ)
    instructions.child({kind: 2 for kind in instructions.KINDS}, orders=14)
    assert dict(os.environ) == before


def test_the_instruction_count_is_the_difference_over_the_extra_requests(monkeypatch):
    from bench import instructions

    cost = {"hello": 300, "bill": 1_700, "handoff": 4_500, "chooser": 3_500}

    def counted(counts, orders, folder):
        assert orders == 40 + 400 + 10  # the same in every run
        return 10**9 + sum(cost[kind] * n for kind, n in counts.items())

    monkeypatch.setattr(instructions, "counted", counted)
    assert instructions.measure(400, 40, parallel=1) == cost
