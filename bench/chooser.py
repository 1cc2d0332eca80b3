"""The hosted checkout's chooser page (issue 3, "Measure").

A signed order is opened once (``POST /pay`` with the BC.click fields and
``sign = md5(appId + title + amount + out_trade_no + appSecret)``), which
redirects to ``/pay/<token>``; then ``GET /pay/<token>`` (the channel chooser,
PC user agent) is loaded with wrk at 1, 16 and 64 connections, beside two
baselines on the same gunicorn settings (the Procfile's) in the same run:

- ``hello``: the bare Flask "hello" page of ``bench/harness.py`` (the issue's
  "bare Flask page"; the ratio the target is about);
- ``page``: a bare Flask page rendering a Jinja template (a layout, a form and
  a loop of buttons with inline SVG) to about the chooser's size, so the
  second ratio shows what the chooser costs beyond rendering an HTML page.

The chooser is loaded twice, from two app servers on the same database: as
served (a repeat view of one checkout comes from the worker's page cache,
``checkout.page_cache``, checked against the rows' versions on every request)
and ``rendered`` (``PAGE_CACHE_SECONDS=0``: every request renders the page,
which is what a checkout's first view costs).

Every chooser answer must be HTTP 200 and hold ``data-testid="channel-``
(a channel button), or it counts as wrong and the run is INVALID (exit 1).

Then the chooser's total transfer size: the HTML plus every stylesheet,
script, image and font it references (``<link href>``, ``<script src>``,
``<img src>``, CSS ``url(...)`` and ``@import``), each gzipped (Python gzip
level 6, or the server's own encoding when it compresses), for a PC, a PC
inside the button's modal (``embed``), a phone and WeChat.

Each concurrency runs ``--rounds`` rounds of the four loads side by side;
a ratio is taken within a round, and the median over the rounds is reported
(this machine's speed drifts over minutes: loads minutes apart compare badly).

Targets (issue 3): chooser ≥ 60 % of hello's requests/s at 64 connections;
total transfer ≤ 25 KB gzipped.

    python bench/chooser.py [--duration 4] [--rounds 3] [--connections 1,16,64]
                            [--channels WX_NATIVE,ALI_WEB,…] [--profile]

``--profile`` samples the workers' CPU with py-spy during an extra run at the
lowest concurrency (no GIL contention, so the shares are a request's CPU
cost) and prints where it goes, by kind of work and by frame.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import sys
import uuid
from dataclasses import asdict
from statistics import median
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from flask import Flask, render_template  # noqa: E402
from jinja2 import DictLoader  # noqa: E402

from bench.harness import (RESULTS, Gunicorn, Instance, Profile, add_merchant,  # noqa: E402
                           load, machine, print_shares, ratio, save, where_time_goes)
from checkout.signing import button_sign  # noqa: E402

TARGET_RATIO = 0.60          # chooser requests/s ÷ hello's, at 64 connections
TARGET_TRANSFER = 25 * 1024  # bytes, gzipped, HTML + everything it references
# A typical merchant: something for every device (PC, phone, WeChat).
CHANNELS = "WX_NATIVE,WX_JSAPI,WX_WAP,ALI_WEB,ALI_QRCODE,ALI_WAP,UN_WEB,UN_WAP"
FRAME_ORIGIN = "http://localhost:8000"  # a merchant page that may frame the checkout
# Lua patterns (load.lua): "-" is magic there.
CHOOSER_MARK = 'data%-testid="channel%-'
PAGE_MARK = 'data%-testid="item%-'

USER_AGENTS = {
    "pc": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/130.0.0.0 Safari/537.36",
    "phone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "wechat": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47 NetType/WIFI",
}

# --- the second baseline: a bare Flask page rendering a template of the chooser's size -------

PAGE_TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width,initial-scale=1">
  <title>{% block title %}{% endblock %}</title>
  <link rel="stylesheet" href="/static/page.css">
</head>
<body class="page">
  <main class="page">
    {% block content %}{% endblock %}
  </main>
  <script src="/static/page.js" defer></script>
</body>
</html>
""",
    "page.html": """{% extends "base.html" %}
{% block title %}{{ shop }} · Choose{% endblock %}
{% block content %}
<header class="top"><span class="payee">{{ shop }}</span></header>
<section class="card order"><div class="title">{{ title }}</div>
<div class="amount">{{ amount }}</div><div class="no">Order number {{ number }}</div></section>
<form method="post" action="/page/{{ number }}/start" class="choose">
  <input type="hidden" name="csrf_token" value="{{ number }}">
  <section class="card items"><h1>Choose one</h1>
  <ul class="list">
  {% for item in items %}
    <li>
      <button type="submit" name="item" value="{{ item.code }}" class="item" data-testid="item-{{ item.code }}">
        <svg class="logo" viewBox="0 0 40 40" aria-hidden="true"><rect width="40" height="40" rx="9" fill="#fff"/><ellipse cx="16.5" cy="17" rx="10" ry="8.5" fill="{{ item.color }}"/><circle cx="13" cy="15" r="1.5" fill="#fff"/><circle cx="20" cy="15" r="1.5" fill="#fff"/></svg>
        <span class="item-name">{{ item.name }}</span>
        {% if item.hint %}<span class="item-hint">{{ item.hint }}</span>{% endif %}
        <span class="chevron" aria-hidden="true">›</span>
      </button>
    </li>
  {% endfor %}
  </ul></section>
</form>
<footer class="foot">Secure checkout</footer>
{% endblock %}
""",
}

page_app = Flask("page")
page_app.jinja_env.loader = DictLoader(PAGE_TEMPLATES)


def _items(count: int) -> list[dict]:
    return [{"code": f"ITEM_{i}", "name": f"Item number {i}", "color": "#07c160",
             "hint": "scan with your phone" if i % 2 else ""} for i in range(count)]


def _page_items() -> list[dict]:
    """As many buttons as make the page about ``BENCH_PAGE_BYTES`` long."""
    target = int(os.environ.get("BENCH_PAGE_BYTES", "4000"))
    template = page_app.jinja_env.get_template("page.html")
    context = {"shop": "Bench Shop", "title": "Oolong tea", "amount": "¥1.99",
               "number": "bench0000"}
    one = len(template.render(items=_items(1), **context).encode())
    each = len(template.render(items=_items(2), **context).encode()) - one
    return _items(max(1, 1 + round((target - one) / each)))


PAGE_ITEMS = _page_items()


@page_app.get("/page")
def page():
    return render_template("page.html", shop="Bench Shop", title="Oolong tea", amount="¥1.99",
                           number="bench0000", items=PAGE_ITEMS)


# --- orders --------------------------------------------------------------------------------

def order_fields(merchant: dict, **extra) -> dict:
    """BC.click fields of a new order, signed as a merchant's server signs them."""
    fields = {"appId": merchant["app_id"], "title": "Oolong tea", "amount": "199",
              "out_trade_no": f"bench{uuid.uuid4().hex[:16]}", **extra}
    fields["sign"] = button_sign(merchant["app_id"], fields["title"], int(fields["amount"]),
                                 fields["out_trade_no"], merchant["app_secret"])
    return fields


def open_order(base_url: str, merchant: dict, **extra) -> str:
    """``POST /pay`` with a fresh signed order: the chooser's URL (``/pay/<token>``)."""
    answer = httpx.post(base_url + "/pay", data=order_fields(merchant, **extra), timeout=10)
    location = answer.headers.get("location", "")
    if answer.status_code != 303 or not re.match(r"^(https?://[^/]+)?/pay/[\w-]+$", location):
        raise RuntimeError(f"POST /pay answered {answer.status_code} {location!r}: "
                           f"{answer.text[:300]}")
    return urljoin(base_url + "/", location)


def _without_csrf(html: bytes) -> bytes:
    """The page without its CSRF token (signed with the second it was made)."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", html)


# --- transfer size -------------------------------------------------------------------------

class _References(HTMLParser):
    """What an HTML page makes a browser fetch: stylesheets, icons, preloads,
    scripts, images (``src`` and ``srcset``), media posters."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            rel = (a.get("rel") or "").lower().split()
            if {"stylesheet", "icon", "preload", "modulepreload", "apple-touch-icon",
                "manifest"} & set(rel):
                self.found.append(("css" if "stylesheet" in rel else "/".join(rel), a["href"]))
        elif tag == "script" and a.get("src"):
            self.found.append(("js", a["src"]))
        elif tag in ("img", "source", "video", "audio", "input", "image", "use"):
            for name in ("src", "poster", "href", "xlink:href"):
                if a.get(name) and not a[name].startswith("#"):
                    self.found.append(("img", a[name]))
            for part in (a.get("srcset") or "").split(","):
                if part.strip():
                    self.found.append(("img", part.strip().split()[0]))
        if a.get("style"):
            self.inline_css.append(a["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.inline_css.append(data)


def _css_references(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found = re.findall(r"url\(\s*['\"]?([^'\")]+?)['\"]?\s*\)", css)
    found += re.findall(r"@import\s+['\"]([^'\"]+)['\"]", css)
    return found


def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def _fetch(client: httpx.Client, url: str, headers: dict) -> dict:
    with client.stream("GET", url, headers=headers) as answer:
        body = answer.read()
        wire = answer.num_bytes_downloaded
        encoding = answer.headers.get("content-encoding", "")
    compressed = wire if encoding in ("gzip", "br", "deflate") else gzipped_size(body)
    return {"url": url, "status": answer.status_code, "raw_bytes": len(body),
            "gzip_bytes": compressed, "server_encoding": encoding or None, "body": body}


def transfer(chooser_url: str, user_agent: str, *, framed: bool = False) -> dict:
    """The chooser and everything it references, fetched once each like a
    browser with an empty cache: raw and gzipped bytes per resource."""
    headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate, br",
               "Accept-Language": "zh-CN,zh;q=0.9"}
    page_headers = {**headers, "Sec-Fetch-Dest": "iframe" if framed else "document"}
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(chooser_url))
    rows, seen = [], set()
    with httpx.Client(timeout=10) as client:
        html = _fetch(client, chooser_url, page_headers)
        if html["status"] != 200 or b'data-testid="channel-' not in html["body"]:
            raise RuntimeError(f"the chooser answered {html['status']} without channels: "
                               f"{html['body'][:300]!r}")
        rows.append({**html, "kind": "html"})
        parser = _References()
        parser.feed(html["body"].decode("utf-8"))
        queue = [(kind, urljoin(chooser_url, ref)) for kind, ref in parser.found]
        queue += [("css-url", urljoin(chooser_url, ref))
                  for css in parser.inline_css for ref in _css_references(css)]
        while queue:
            kind, url = queue.pop(0)
            if url.startswith("data:") or url in seen:
                continue  # data: URLs are already counted in the page that holds them
            seen.add(url)
            fetched = _fetch(client, url, headers)
            rows.append({**fetched, "kind": kind})
            if kind == "css" or url.split("?")[0].endswith(".css"):
                queue += [("css-url", urljoin(url, ref))
                          for ref in _css_references(fetched["body"].decode("utf-8", "replace"))]
        # Browsers ask for /favicon.ico on their own when the page names no icon.
        favicon = None
        if not any("icon" in row["kind"] for row in rows):
            answer = client.get(origin + "/favicon.ico", headers=headers)
            favicon = {"status": answer.status_code, "raw_bytes": len(answer.content)}
    for row in rows:
        row.pop("body")
        row["path"] = row["url"][len(origin):] if row["url"].startswith(origin) else row["url"]
    return {"resources": rows, "raw_bytes": sum(r["raw_bytes"] for r in rows),
            "gzip_bytes": sum(r["gzip_bytes"] for r in rows), "favicon": favicon,
            "bad": [r["path"] for r in rows if r["status"] != 200]}


def print_transfer(device: str, total: dict) -> None:
    print(f"\n  {device}: {len(total['resources'])} resources")
    print(f"    {'kind':<8} {'raw B':>7} {'gzip B':>7}  path")
    for row in total["resources"]:
        path = re.sub(r"/pay/[\w-]{12,}", "/pay/<token>", row["path"])
        encoded = f" (server: {row['server_encoding']})" if row["server_encoding"] else ""
        status = "" if row["status"] == 200 else f"  HTTP {row['status']}"
        print(f"    {row['kind']:<8} {row['raw_bytes']:>7} {row['gzip_bytes']:>7}  "
              f"{path}{encoded}{status}")
    print(f"    {'total':<8} {total['raw_bytes']:>7} {total['gzip_bytes']:>7}  "
          f"({total['gzip_bytes'] / 1024:.1f} KB gzipped)")
    if total["favicon"]:
        print(f"    (not counted: the browser's own /favicon.ico request answers HTTP "
              f"{total['favicon']['status']}, {total['favicon']['raw_bytes']} B)")


# --- the run --------------------------------------------------------------------------------

PROFILE_KEEP = ("checkout/", "do_execute", "do_ping", "templates/", "render_template",
                "flask_babel", "flask_wtf", "itsdangerous", "save_session",
                "gunicorn/http/wsgi.py", "wsgi_app")

# What a request's CPU is spent on, decided by the first kind (in this order)
# that has a frame anywhere in the sample's stack.
KINDS = (
    ("session cookie + CSRF token", ("itsdangerous", "save_session", "open_session",
                                     "flask_wtf", "order_csrf_token")),
    ("database (SQLAlchemy ORM, sqlite3)", ("sqlalchemy/", "sqlite3")),
    ("translations, locale (Babel)", ("flask_babel", "babel/", "gettext")),
    ("Jinja rendering (rest)", ("jinja2/", ".html)")),
    ("writing the answer (gunicorn)", ("gunicorn/http/wsgi.py", "gunicorn/util.py")),
    ("user agent", ("user_agents", "ua_parser")),
    ("QR code", ("segno",)),
    ("checkout code (rest)", ("checkout/",)),
    ("Flask, Werkzeug (rest)", ("flask/", "werkzeug/")),
    ("gunicorn (parsing, rest)", ("gunicorn/",)),
)


class CpuProfile(Profile):
    """py-spy without ``--idle``: samples only threads on a CPU, so at one
    connection (no GIL contention) the shares are a request's CPU cost."""

    def __init__(self, server: Gunicorn, path: Path, seconds: float):
        super().__init__(server, path, seconds)
        self.command.remove("--idle")


def time_by_kind(raw: Path, *, within: str = "handle_request (gunicorn") -> list:
    """[(share, kind)] of the samples inside a request, each sample counted once."""
    total, counts = 0, {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if within not in stack:
            continue
        total += int(count)
        kind = next((name for name, marks in KINDS if any(m in stack for m in marks)),
                    "other (Python, stdlib)")
        counts[kind] = counts.get(kind, 0) + int(count)
    return sorted(((round(n / total, 3), kind) for kind, n in counts.items()),
                  reverse=True) if total else []


def summarise(connections: int, rounds: list[dict]) -> dict:
    """Median over the rounds of each ratio taken within a round: this
    machine's speed drifts over minutes (hello itself varies 2x between
    runs), so only loads measured side by side are compared. A round with a
    load that stayed lopsided after its retries is left out (unless all are)."""
    clean = [r for r in rounds if not any(result.lopsided for result in r.values())]
    left_out = len(rounds) - len(clean)
    rounds = clean or rounds

    def median_ratio(app: str, baseline: str) -> dict:
        each = [ratio(r[app], r[baseline]) for r in rounds]
        throughputs = [e["throughput_ratio"] for e in each]
        p99s = [e["p99_ratio"] for e in each if e["p99_ratio"] is not None]
        return {"connections": connections, "throughput_ratio": median(throughputs),
                "low": min(throughputs), "high": max(throughputs),
                "p99_ratio": median(p99s) if p99s else None}

    return {"connections": connections, "rounds_left_out": left_out if clean else 0,
            "to_hello": median_ratio("chooser", "hello"),
            "to_page": median_ratio("chooser", "page"),
            "rendered_to_hello": median_ratio("rendered", "hello"),
            "requests_per_s": {name: median(r[name].requests_per_s for r in rounds)
                               for name in rounds[0]},
            "p99_ms": {name: median(r[name].p99_ms for r in rounds) for name in rounds[0]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--duration", type=float, default=4,
                        help="seconds per load (default 4)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of hello, page, chooser and rendered per concurrency; "
                             "ratios are taken within a round, then the median (default 3)")
    parser.add_argument("--channels", default=CHANNELS,
                        help=f"the merchant's channels (default {CHANNELS})")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy (CPU) the workers during a run at the lowest concurrency")
    options = parser.parse_args()
    levels = [int(c) for c in options.connections.split(",")]
    profile_raw = RESULTS / f"chooser-profile-{uuid.uuid4().hex[:6]}.txt"
    hot, kinds, rows, ratios, transfers = [], [], [], [], {}

    instance = Instance()
    try:
        merchant = add_merchant(instance, "Bench Tea Shop", channels=options.channels,
                                return_hosts="shop.example.com", frame_origins=FRAME_ORIGIN)
        with Gunicorn("wsgi:app", instance.env, ready_path="/healthz") as app, \
                Gunicorn("wsgi:app", {**instance.env, "PAGE_CACHE_SECONDS": "0"},
                         ready_path="/healthz") as uncached:
            chooser_url = open_order(app.url, merchant)
            rendered_url = uncached.url + urlsplit(chooser_url).path
            html = httpx.get(chooser_url, timeout=10)
            html_bytes = len(html.content)
            if _without_csrf(httpx.get(rendered_url, timeout=10).content) != \
                    _without_csrf(html.content):
                raise RuntimeError("the cached and the rendered chooser differ")
            page_env = {"BENCH_PAGE_BYTES": str(html_bytes)}
            with Gunicorn("bench.harness:hello_app", ready_path="/hello") as hello, \
                    Gunicorn("bench.chooser:page_app", page_env, ready_path="/page") as page_:
                page_bytes = len(httpx.get(page_.url + "/page", timeout=10).content)
                print(f"gunicorn {app.workers()}; SQLite; channels {options.channels}")
                print(f"chooser (PC) {html_bytes} B of HTML; template baseline 'page' "
                      f"{page_bytes} B")
                for connections in levels:
                    if options.profile and connections == min(levels):
                        RESULTS.mkdir(parents=True, exist_ok=True)
                        # Sampling slows the workers: this run's numbers are the profile's only.
                        with CpuProfile(app, profile_raw, options.duration):
                            load("profiled", chooser_url, connections=connections,
                                 duration=options.duration, expect=CHOOSER_MARK, warmup=0)
                        hot = where_time_goes(profile_raw, keep=PROFILE_KEEP, top=20)
                        kinds = time_by_kind(profile_raw)
                    rounds = []
                    for number in range(1, options.rounds + 1):
                        found = {
                            "hello": load("hello", hello.url + "/hello", connections=connections,
                                          duration=options.duration, expect="^hello$",
                                          server=hello),
                            "page": load("page", page_.url + "/page", connections=connections,
                                         duration=options.duration, expect=PAGE_MARK,
                                         server=page_),
                            "chooser": load("GET /pay/<tok>", chooser_url,
                                            connections=connections,
                                            duration=options.duration, expect=CHOOSER_MARK,
                                            server=app),
                            "rendered": load("rendered", rendered_url, connections=connections,
                                             duration=options.duration, expect=CHOOSER_MARK,
                                             server=uncached)}
                        rounds.append(found)
                        print(f"round {number}/{options.rounds}")
                        for result in found.values():
                            print(result.line())
                    level = summarise(connections, rounds)
                    print(f"{'median ratio':>14} c={connections:<3} throughput "
                          f"{level['to_hello']['throughput_ratio']:.1%} of hello "
                          f"(rounds {level['to_hello']['low']:.1%}–"
                          f"{level['to_hello']['high']:.1%}; "
                          f"p99 x{level['to_hello']['p99_ratio']}), "
                          f"{level['to_page']['throughput_ratio']:.1%} of page; "
                          f"rendered every time "
                          f"{level['rendered_to_hello']['throughput_ratio']:.1%} of hello"
                          + (f"; {level['rounds_left_out']} lopsided round(s) left out"
                             if level["rounds_left_out"] else "") + "\n")
                    rows.append({"connections": connections,
                                 "rounds": [{name: asdict(result) for name, result in r.items()}
                                            for r in rounds]})
                    ratios.append(level)

            print("\nchooser transfer size (HTML + everything it references; "
                  "gzip -6 unless the server compresses)")
            for device, framed in (("pc", False), ("pc-framed", True), ("phone", False),
                                   ("wechat", False)):
                extra = {"embed": "1", "parent_origin": FRAME_ORIGIN} if framed else {}
                url = open_order(app.url, merchant, **extra)
                agent = USER_AGENTS["pc" if device == "pc-framed" else device]
                transfers[device] = transfer(url, agent, framed=framed)
                print_transfer(device + (" (in the button's modal)" if framed else ""),
                               transfers[device])
    finally:
        instance.cleanup()

    if hot:
        print_shares(f"\nwhere a chooser request's CPU goes at {min(levels)} connection(s) "
                     f"(py-spy, on-CPU samples; raw samples in {profile_raw}):", kinds)
        print_shares("  frames (inclusive):", hot)

    top = next((r for r in ratios if r["connections"] == 64), ratios[-1])
    throughput_met = top["to_hello"]["throughput_ratio"] >= TARGET_RATIO
    largest = max(transfers.values(), key=lambda t: t["gzip_bytes"])
    transfer_met = largest["gzip_bytes"] <= TARGET_TRANSFER
    print(f"\ntarget chooser >= {TARGET_RATIO:.0%} of hello at c={top['connections']}: "
          f"{'met' if throughput_met else 'MISSED'} "
          f"(median of {options.rounds} rounds {top['to_hello']['throughput_ratio']:.1%}, rounds "
          f"{top['to_hello']['low']:.1%}–{top['to_hello']['high']:.1%}; "
          f"{top['to_page']['throughput_ratio']:.1%} of the template page; rendered every time "
          f"{top['rendered_to_hello']['throughput_ratio']:.1%} of hello)")
    print(f"target transfer <= {TARGET_TRANSFER // 1024} KB gzipped: "
          f"{'met' if transfer_met else 'MISSED'} ("
          + ", ".join(f"{d} {t['gzip_bytes'] / 1024:.1f} KB" for d, t in transfers.items())
          + ")")
    path = save("chooser", {
        "machine": machine(), "channels": options.channels, "chooser_html_bytes": html_bytes,
        "page_html_bytes": page_bytes, "runs": rows, "ratios": ratios,
        "transfer": transfers, "target_ratio_at_64": TARGET_RATIO,
        "target_transfer_bytes": TARGET_TRANSFER,
        "target_met": {"throughput": throughput_met, "transfer": transfer_met},
        "profile": {"connections": min(levels),
                    "kinds": [{"share": share, "kind": kind} for share, kind in kinds],
                    "frames": [{"share": share, "frame": frame} for share, frame in hot]}})
    print("saved", path)
    wrong = sum(result["wrong"] for row in rows for r in row["rounds"] for result in r.values())
    bad = [path for t in transfers.values() for path in t["bad"]]
    if wrong or bad:
        print(f"INVALID RUN: {wrong} wrong answers; resources not HTTP 200: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
