"""The benchmark harness measures what it says: gunicorn as the Procfile runs
it, and wrk counting every answer that is not the expected one."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (Gunicorn, hello_app, load, procfile_gunicorn_args,  # noqa: E402
                           where_time_goes)

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
