"""Benchmark harness: the app and a bare Flask "hello" under the same gunicorn
settings (the Procfile's ``web`` line), loaded by ``wrk`` in the same run, so
results are reported as ratios that mean something on any machine.

Pieces (used by ``bench/bill_creation.py``; reusable for other benchmarks):

- ``Instance``: a throwaway instance folder (SQLite database, secret key),
  migrated, with one demo merchant whose credentials we keep.
- ``Gunicorn``: starts ``gunicorn`` with the Procfile's arguments on a free
  port of 127.0.0.1 and stops it again.
- ``load``: runs ``wrk`` (Debian package ``wrk``) with ``bench/load.lua`` for
  a number of connections and returns requests/s, p50, p99 and how many
  answers were wrong (not HTTP 200, or a body that did not match).
- ``save``: writes a run's results as JSON under ``bench/results/`` (git-ignored).
- ``Profile``: samples the gunicorn workers with py-spy (``--idle``: waits count,
  they are what latency is made of) while a load runs; ``where_time_goes``
  turns the samples into the share of request time spent in each frame.

Check the harness on its own (hello only)::

    python bench/harness.py --connections 1,16,64 --duration 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from contextlib import nullcontext as _nothing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOAD_SCRIPT = ROOT / "bench" / "load.lua"

# --- the baseline: a bare Flask app --------------------------------------------------

hello_app = Flask("hello")


@hello_app.get("/hello")
def hello():
    return "hello"


# --- processes -------------------------------------------------------------------------

def pinned(variable: str) -> list[str]:
    """``taskset -c CPUS`` when the environment variable names CPUs (e.g.
    ``BENCH_WRK_CPUS=2`` for wrk, ``BENCH_SERVER_CPUS=0,1`` for gunicorn):
    keeps the load generator off the servers' cores on a machine that has
    cores to spare. Nothing otherwise."""
    cpus = os.environ.get(variable, "").strip()
    return ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def procfile_gunicorn_args(target: str, port: int, procfile: Path = ROOT / "Procfile",
                           environ: dict | None = None) -> list[str]:
    """The Procfile's ``web`` command with our bind address and WSGI target.
    ``${VAR:-default}`` is expanded from ``environ`` (default: this process's
    environment) like a shell would."""
    environ = os.environ if environ is None else environ
    line = next(l for l in procfile.read_text().splitlines() if l.startswith("web:"))
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: environ.get(m.group(1)) or m.group(2),
                  line[len("web:"):])
    args = shlex.split(line)
    if args[0] != "gunicorn":
        raise SystemExit(f"the Procfile's web process is not gunicorn: {line}")
    out, skip = [], False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg in ("--bind", "-b"):
            skip = True
            continue
        if arg.startswith("--bind=") or ":" in arg and not arg.startswith("-"):
            continue  # the bind value or the WSGI target (wsgi:app)
        out.append(arg)
    return [*pinned("BENCH_SERVER_CPUS"), sys.executable, "-m", "gunicorn", *out,
            "--bind", f"127.0.0.1:{port}", target]


class Gunicorn:
    """``with Gunicorn("wsgi:app", env) as server: server.url``"""

    def __init__(self, target: str, env: dict | None = None, *, ready_path: str = "/",
                 log_path: Path | None = None):
        self.target = target
        self.env = {**os.environ, **(env or {})}
        self.ready_path = ready_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = procfile_gunicorn_args(target, self.port, environ=self.env)
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.target} exited; see {self.log_path}:\n"
                                   + self.log_path.read_text()[-2000:])
            try:
                httpx.get(self.url + self.ready_path, timeout=1)
            except httpx.HTTPError:
                time.sleep(0.1)  # polling a process start-up, not a test
                continue
            # gunicorn forks its workers a moment apart: one answering is not all up.
            if len(self.worker_pids()) >= self.worker_count():
                return self
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"gunicorn {self.target} did not answer within 60 s")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def workers(self) -> str:
        return " ".join(self.args[self.args.index("gunicorn") + 1:-1])

    def worker_count(self) -> int:
        """How many workers the arguments ask for."""
        return int(self.args[self.args.index("--workers") + 1]) if "--workers" in self.args else 1

    def worker_pids(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.process.pid)],
                               capture_output=True, text=True).stdout
        return [int(pid) for pid in found.split()]


class Instance:
    """A fresh instance folder with a migrated database and a demo merchant."""

    def __init__(self, database_url: str | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="bench-instance-"))
        self.env = {"INSTANCE_PATH": str(self.folder), "LOG_LEVEL": "WARNING",
                    "GATEWAY": "embedded", "DEMO": "", "FLASK_DEBUG": "0"}
        if database_url:
            self.env["DATABASE_URL"] = database_url
        else:
            self.env["DATABASE_URL"] = ""
        self.database_uri = database_url or f"sqlite:///{self.folder / 'checkout.sqlite3'}"
        self.flask("db", "upgrade")
        self.merchant = json.loads(self.flask(
            "merchants", "create", "Bench Shop", "--channels", "ALI_WEB,WX_NATIVE,ALI_WAP",
            "--return-hosts", "shop.example.com", "--json"))

    def flask(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                              env={**os.environ, **self.env}, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    @contextmanager
    def environment(self):
        """This process's environment is the instance's (an app made in
        process finds its folder and database), and as it was afterwards."""
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def add_merchant(instance: Instance, name: str, *, channels: str, return_hosts: str = "",
                 frame_origins: str = "") -> dict:
    """Another merchant in ``instance`` (``flask merchants create --json``):
    its credentials, like ``instance.merchant``. Lists are comma-separated."""
    args = ["merchants", "create", name, "--channels", channels, "--json"]
    if return_hosts:
        args += ["--return-hosts", return_hosts]
    if frame_origins:
        args += ["--frame-origins", frame_origins]
    return json.loads(instance.flask(*args))


# --- load ----------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    connections: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    wrong: int  # HTTP status not 200, a body that did not match, or a socket error
    # wrk's connections per gunicorn worker during the run, busiest first
    # (empty when not known), and how many lopsided runs were thrown away.
    split: list[int] = field(default_factory=list)
    retries: int = 0
    # CPU per answered request (µs) during the run, when the server is known
    # (Linux /proc): its gunicorn workers' user + system time, and the whole
    # machine's busy time (wrk, the database and the kernel included); the
    # machine's idle share. Unlike wall-clock shares these say what a request
    # costs under the load itself.
    server_cpu_us: float | None = None
    machine_busy_us: float | None = None
    idle_share: float | None = None

    @property
    def lopsided(self) -> bool:
        """Still lopsided after the retries (its throughput is one worker's)."""
        return is_lopsided(self.split)

    def line(self) -> str:
        split = f"  split {'/'.join(map(str, self.split))}" if len(self.split) > 1 else ""
        again = f" ({self.retries} lopsided runs retried)" if self.retries else ""
        cpu = (f"  CPU/req: server {self.server_cpu_us:.0f} µs, machine "
               f"{self.machine_busy_us:.0f} µs, idle {self.idle_share:.0%}"
               if self.server_cpu_us is not None else "")
        return (f"{self.name:>14} c={self.connections:<3} {self.requests_per_s:9.1f} req/s  "
                f"p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  "
                f"max {self.max_ms:7.1f} ms  wrong {self.wrong}{split}{again}{cpu}")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` (Linux /proc; a
    process that is gone counts 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return total / CLOCK_TICKS


def machine_seconds() -> tuple[float, float]:
    """The machine's (all, idle + iowait) CPU seconds since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) / CLOCK_TICKS, (values[3] + values[4]) / CLOCK_TICKS


class CpuMeter:
    """``with CpuMeter(server) as meter: …`` then ``meter.per_request(n)``:
    what the server's workers and the machine spent on each of ``n`` answers."""

    def __init__(self, server: "Gunicorn"):
        self.pids = server.worker_pids()

    def __enter__(self) -> "CpuMeter":
        self.server0, self.machine0 = cpu_seconds(self.pids), machine_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.server1, self.machine1 = cpu_seconds(self.pids), machine_seconds()

    def per_request(self, requests: int) -> dict:
        if not requests:
            return {}
        every = self.machine1[0] - self.machine0[0]
        idle = self.machine1[1] - self.machine0[1]
        return {"server_cpu_us": round((self.server1 - self.server0) / requests * 1e6, 1),
                "machine_busy_us": round((every - idle) / requests * 1e6, 1),
                "idle_share": round(idle / every, 3) if every else None}


# wrk opens all its connections at once and keeps them for the whole run. The
# gunicorn workers share one listening socket, and the first one to wake often
# accepts every connection (measured here: all 64 on one worker in 8 loads of
# 10), so such a run measures one worker: about half the throughput, for
# hello as for the app. A run whose busiest worker holds more than this share
# of the connections is thrown away and run again (at most LOPSIDED_RETRIES
# times; the result says how many).
LOPSIDED_SHARE = 0.75
LOPSIDED_RETRIES = 6


def is_lopsided(split: list[int]) -> bool:
    """The busiest worker holds more than ``LOPSIDED_SHARE`` of the connections."""
    return bool(split) and split[0] > LOPSIDED_SHARE * sum(split)


def connections_per_worker(server: "Gunicorn") -> list[int]:
    """Established connections to ``server`` per worker process, busiest first
    (workers holding none count as 0); empty without ``ss`` (iproute2)."""
    if not shutil.which("ss"):
        return []
    listing = subprocess.run(["ss", "-tnpH", "state", "established",
                              f"( sport = :{server.port} )"],
                             capture_output=True, text=True).stdout
    counts = {pid: 0 for pid in server.worker_pids()}
    for pid in re.findall(r"pid=(\d+)", listing):
        if int(pid) in counts:
            counts[int(pid)] += 1
    return sorted(counts.values(), reverse=True)


def load(name: str, url: str, *, connections: int, duration: float, method: str = "GET",
         body: str = "", expect: str = "", warmup: float = 1.0,
         body_for_run=None, server: "Gunicorn | None" = None,
         script: Path = LOAD_SCRIPT, script_args=None) -> Result:
    """Load ``url`` with wrk for ``duration`` seconds at ``connections``.

    ``body`` may hold ``{n}``: each request replaces it by a value unique in the
    run (thread and sequence number, letters and digits only). ``expect`` is a
    Lua pattern every answer body must contain. ``body_for_run(tag)`` may give a
    fresh body template for the warm-up and for the run (unique values per run).
    With ``server`` (the gunicorn serving ``url``), a run whose connections
    landed lopsided on its workers is run again (``LOPSIDED_SHARE``).
    ``script``/``script_args(phase)``: another wrk script and its arguments
    (it must print the same ``BENCH_JSON`` line), e.g. ``bench/handoff.lua``.
    """
    if script_args is not None:
        body_for_run = script_args
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    threads = 1 if connections < 4 else 2
    if warmup > 0:
        _wrk(url, connections, threads, warmup, method,
             body_for_run("w") if body_for_run else body, expect, script=script)
    workers = server.worker_count() if server is not None else 1
    retries = 0
    while True:
        # The run's body is made before the meter starts (the hand-off's
        # orders are prepared in this process: not the load's cost).
        arguments = body_for_run(f"r{retries}") if body_for_run else body
        meter = CpuMeter(server) if server is not None and Path("/proc/stat").exists() else None
        with meter or _nothing():
            out, split = _wrk(url, connections, threads, duration, method, arguments, expect,
                              server=server if workers > 1 and connections >= 2 * workers
                              else None, script=script)
        if not is_lopsided(split) or retries == LOPSIDED_RETRIES:
            break
        retries += 1
    return Result(name=name, connections=connections, duration_s=out["duration_us"] / 1e6,
                  requests=out["requests"],
                  requests_per_s=out["requests"] / (out["duration_us"] / 1e6),
                  p50_ms=out["p50_us"] / 1000, p99_ms=out["p99_us"] / 1000,
                  max_ms=out["max_us"] / 1000,
                  wrong=out["wrong"] + out["socket_errors"], split=split, retries=retries,
                  **(meter.per_request(out["requests"]) if meter else {}))


def _wrk(url, connections, threads, duration, method, body, expect, *,
         server: "Gunicorn | None" = None, script: Path = LOAD_SCRIPT) -> tuple[dict, list[int]]:
    """wrk's result, and (with ``server``) its connections per worker,
    looked at once the run is under way. ``body`` may be a list: all the
    script's arguments (another ``script``)."""
    seconds = max(1, round(duration))
    arguments = body if isinstance(body, list) else [method, body, expect]
    command = [*pinned("BENCH_WRK_CPUS"), "wrk", "-t", str(threads), "-c", str(connections),
               "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url, "--",
               *arguments]
    running = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    split = []
    if server is not None:
        try:
            running.wait(timeout=min(1.0, seconds / 3))  # wrk has connected by then
        except subprocess.TimeoutExpired:
            split = connections_per_worker(server)
    stdout, stderr = running.communicate()
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):]), split
    raise RuntimeError(f"wrk gave no result (exit {running.returncode}):\n{stdout}\n{stderr}")


def print_shares(title: str, shares: list) -> None:
    """A profile's [(share, what)] under a title, one line each."""
    print(title)
    for share, what in shares:
        print(f"  {share:6.1%}  {what}")


def ratio(app: Result, baseline: Result) -> dict:
    return {"connections": app.connections,
            "throughput_ratio": round(app.requests_per_s / baseline.requests_per_s, 3),
            "p99_ratio": round(app.p99_ms / baseline.p99_ms, 2) if baseline.p99_ms else None}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0],
            "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True)
            .stdout.split("\n")[0].strip() or "wrk"}


def save(benchmark: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{benchmark}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    return path


# --- where the time goes ---------------------------------------------------------------------

class Profile:
    """``with Profile(server, path): load(...)``: py-spy samples every worker,
    wall-clock (idle threads included), in py-spy's "raw" collapsed format."""

    def __init__(self, server: Gunicorn, path: Path, seconds: float):
        if not shutil.which("py-spy"):
            raise SystemExit("py-spy is missing: pip install -r requirements-dev.txt")
        self.command = ["py-spy", "record", "--subprocesses", "--idle", "--rate", "200",
                        "--duration", str(max(1, round(seconds))), "--format", "raw",
                        "--output", str(path), "--pid", str(server.process.pid)]
        self.path = path

    def __enter__(self) -> "Profile":
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc) -> None:
        _, errors = self.process.communicate(timeout=120)
        if self.process.returncode != 0 or not self.path.exists():
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")


def where_time_goes(raw: Path, *, within: str = "handle_request (gunicorn",
                    keep: tuple[str, ...] = ("checkout/", "do_execute", "do_commit",
                                             "gunicorn/util.py"), top: int = 25) -> list:
    """Share of the samples inside ``within`` (a request being served) spent in
    each frame (inclusive) whose text holds one of ``keep``: [(share, frame)]."""
    total, inclusive = 0, {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
        if not any(within in frame for frame in frames):
            continue
        total += int(count)
        for frame in set(frames):
            if any(k in frame for k in keep):
                inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return [(round(n / total, 3), frame) for frame, n in ranked] if total else []


def main() -> None:
    parser = argparse.ArgumentParser(description="Load the bare Flask hello app (harness check).")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--duration", type=float, default=5)
    options = parser.parse_args()
    results = []
    with Gunicorn("bench.harness:hello_app", ready_path="/hello") as server:
        print(f"gunicorn {server.workers()}")
        for connections in [int(c) for c in options.connections.split(",")]:
            result = load("hello", server.url + "/hello", connections=connections,
                          duration=options.duration, expect="^hello$", server=server)
            print(result.line())
            results.append(asdict(result))
    print("saved", save("hello", {"machine": machine(), "results": results}))


if __name__ == "__main__":
    main()
