"""The JS button (issue 4, "Measure"): its size, and the time from
``BC.click`` to a visible chooser.

The app runs under gunicorn with the Procfile's settings (``bench/harness.py``),
with a merchant whose frame origins list a merchant page served by this
script on another origin (``http://localhost:PORT``; the checkout is
``http://127.0.0.1:PORT2``), so a PC opens the checkout in the button's modal.

(a) Size: the loader (``GET /1/pay/jsbutton/returnscripts?appId=…``) and the
versioned button script it loads (``/1/pay/jsbutton/bc-button.<version>.js``),
raw and gzipped (Python gzip level 6, or the server's own encoding when it
compresses), each and together. Target (issue 4): ≤ 4 KB gzipped.

(b) Time, in headless Chromium (Playwright, ``/usr/bin/chromium``): the
merchant page loads the script; ``performance.now()`` is taken just before
``BC.click(order)`` (a fresh signed order each time), and the chooser counts
as visible in the first animation frame in which a channel button
(``[data-testid^="channel-"]``) inside the modal's iframe (``bc-checkout-N``)
has a box, i.e. after its render-blocking stylesheets. The two clocks are
compared through ``performance.timeOrigin``. *cold*: the first click in a
fresh browser context; *warm*: the modal closed (``BC.close()``) and
``BC.click`` again with another order in the same page. The baseline, in the
same run and browser: navigating a page straight to the chooser
(``page.goto('/pay/<token>')`` of an order opened beforehand) until the
channels are visible, cold and warm likewise; and, to show the button's own
part, navigating to the entry (``GET /pay?appId=…&sign=…`` → 303 → chooser),
which does the same server work as the click. "observed" is the same
interval as Playwright sees it (its wait returns, then the page's clock is
read), an upper bound with the driver's round trips in it.

    python bench/button.py [--runs 20]

Writes ``bench/results/button-*.json``. A run fails (exit 1) if a chooser
does not show within 10 s, the modal shows another page than the chooser, or
a measurement is missing.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.chooser import CHANNELS, open_order, order_fields  # noqa: E402
from bench.harness import Gunicorn, Instance, add_merchant, free_port, machine, save  # noqa: E402

TARGET_GZIP = 4 * 1024  # loader + button script, gzipped
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CHANNEL = '[data-testid^="channel-"]'

# --- (a) size -----------------------------------------------------------------------------

def gzipped_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def _sized(client: httpx.Client, url: str) -> dict:
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip, deflate, br"}) as answer:
        body = answer.read()
        wire = answer.num_bytes_downloaded
        encoding = answer.headers.get("content-encoding")
        cache = answer.headers.get("cache-control")
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} answered {answer.status_code}")
    return {"url": url, "raw_bytes": len(body),
            "gzip_bytes": wire if encoding else gzipped_size(body),
            "server_encoding": encoding, "cache_control": cache, "body": body}


def rough_minified(js: str) -> str:
    """Comments and indentation gone (not a real minifier: names and spaces
    stay), to estimate what minifying would give."""
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    js = re.sub(r"(?m)^\s*//.*$", "", js)
    return "\n".join(line.strip() for line in js.splitlines() if line.strip())


def script_sizes(checkout: str, app_id: str) -> dict:
    with httpx.Client(timeout=10) as client:
        loader = _sized(client, f"{checkout}/1/pay/jsbutton/returnscripts?appId={app_id}")
        src = re.search(rb's\.src="([^"]+)"', loader["body"])
        if not src:
            raise RuntimeError(f"no script URL in the loader: {loader['body'][:300]!r}")
        button = _sized(client, src.group(1).decode())
    minified = rough_minified(button["body"].decode("utf-8")).encode("utf-8")
    rows = []
    for name, row in (("loader", loader), ("button", button)):
        row.pop("body")
        rows.append({"name": name, **row, "path": urlsplit(row["url"]).path})
    return {"resources": rows, "raw_bytes": sum(r["raw_bytes"] for r in rows),
            "gzip_bytes": sum(r["gzip_bytes"] for r in rows),
            "button_rough_minified": {"raw_bytes": len(minified),
                                      "gzip_bytes": gzipped_size(minified)}}


# --- the merchant's page, on another origin ---------------------------------------------------

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bench shop</title></head>
<body>
<button id="buy">Buy</button>
<script src="{checkout}/1/pay/jsbutton/returnscripts?appId={app_id}"></script>
<script>
window.benchClick = function (order) {{
  window.clickAt = performance.timeOrigin + performance.now();
  return BC.click(order);
}};
</script>
</body></html>
"""

# In every frame of the browser: on a chooser (/pay/<token>), the first
# animation frame in which a channel button has a box.
VISIBLE_PROBE = """(() => {
  if (!/^\\/pay\\/[^\\/]+$/.test(location.pathname)) return;
  const check = () => {
    const button = document.querySelector('[data-testid^="channel-"]');
    if (button) {
      const box = button.getBoundingClientRect();
      if (box.width > 0 && box.height > 0 && getComputedStyle(button).visibility !== "hidden") {
        const now = performance.now();
        window.__chooserVisible = {at: performance.timeOrigin + now, sinceOrigin: now};
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})();"""


class Shop:
    """``with Shop(page) as shop: shop.origin``: serves one page on
    ``http://localhost:PORT`` (another site than the checkout's 127.0.0.1)."""

    def __init__(self, port: int):
        self.port, self.page = port, "<p>empty</p>"
        self.origin = f"http://localhost:{port}"

    def __enter__(self) -> "Shop":
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = shop.page.encode("utf-8") if self.path == "/" else b"not found"
                self.send_response(200 if self.path == "/" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- (b) time -----------------------------------------------------------------------------------

# Inside the chooser's document, after it showed: its Navigation, Resource and
# Paint Timing entries (one clock: the document's, from its timeOrigin).
TIMINGS = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const css = performance.getEntriesByType("resource").filter(e => /\\.css(\\?|$)/.test(e.name));
  const paint = {};
  performance.getEntriesByType("paint").forEach(e => { paint[e.name] = e.startTime; });
  return {origin: performance.timeOrigin, redirects: nav.redirectCount,
          redirectEnd: nav.redirectEnd, requestStart: nav.requestStart,
          responseStart: nav.responseStart, responseEnd: nav.responseEnd,
          cssEnd: css.length ? Math.max(...css.map(e => e.responseEnd)) : null,
          domContentLoaded: nav.domContentLoadedEventStart,
          firstContentfulPaint: paint["first-contentful-paint"] ?? null};
}"""

# The phases of one interval, in ms from the click (or the navigation's start).
PHASES = (
    ("navigation", "the chooser's navigation starts"),
    ("redirectEnd", "POST|GET /pay answered 303 (order opened)"),
    ("requestStart", "GET /pay/<token> sent"),
    ("responseStart", "its first byte"),
    ("responseEnd", "its last byte"),
    ("cssEnd", "stylesheets received"),
    ("domContentLoaded", "DOMContentLoaded"),
    ("firstContentfulPaint", "first contentful paint"),
    ("visible", "channel buttons visible (rAF)"),
)


def phases(timings: dict, offset: float, visible: float) -> dict:
    """Timing entries of the chooser's document moved to the interval's start:
    ``offset`` is its timeOrigin minus that start."""
    out = {"navigation": offset, "visible": visible}
    for name in ("redirectEnd", "requestStart", "responseStart", "responseEnd", "cssEnd",
                 "domContentLoaded", "firstContentfulPaint"):
        value = timings.get(name)
        out[name] = offset + value if value else None  # 0: no redirect
    return out


def _label(url: str) -> str:
    return re.sub(r"bc-button\.\w+\.js", "bc-button.<version>.js", urlsplit(url).path)


def _visible_in(frame, timeout_ms: float = 10_000) -> dict:
    frame.wait_for_selector(CHANNEL, state="visible", timeout=timeout_ms)
    frame.wait_for_function("() => window.__chooserVisible", timeout=timeout_ms)
    return frame.evaluate("() => window.__chooserVisible")


def probed_page(browser):
    """A fresh desktop context (its own cache) with the visibility probe."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.add_init_script(VISIBLE_PROBE)
    return context, context.new_page()


def click_to_chooser(page, checkout: str, order: dict, number: int) -> dict:
    """BC.click on the merchant's page until the channels show in modal ``number``."""
    page.evaluate("order => benchClick(order)", order)
    name = f"bc-checkout-{number}"
    page.wait_for_selector(f'iframe[name="{name}"]', state="attached")
    frame = page.frame(name=name)
    visible = _visible_in(frame)
    seen_at = page.evaluate("() => performance.timeOrigin + performance.now()")
    clicked = page.evaluate("() => window.clickAt")
    if not frame.url.startswith(checkout + "/pay/"):
        raise RuntimeError(f"the modal shows {frame.url}, not the chooser")
    timings = frame.evaluate(TIMINGS)
    return {"ms": visible["at"] - clicked, "observed_ms": seen_at - clicked,
            "phases": phases(timings, timings["origin"] - clicked, visible["at"] - clicked)}


def navigate_to(page, url: str) -> dict:
    """``page.goto(url)`` until the channels show; times from the navigation's start
    (the chooser's ``performance.timeOrigin``)."""
    page.goto(url, wait_until="commit")
    visible = _visible_in(page.main_frame)
    seen = page.evaluate("() => performance.now()")
    timings = page.evaluate(TIMINGS)
    return {"ms": visible["sinceOrigin"], "observed_ms": seen,
            "phases": phases(timings, 0.0, visible["sinceOrigin"])}


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(p90, 1), "min_ms": round(ordered[0], 1),
            "max_ms": round(ordered[-1], 1)}


def phase_medians(runs: list[dict]) -> dict:
    """Median of each phase over the runs (phases a run lacks are left out)."""
    out = {}
    for name, _ in PHASES:
        values = [run["phases"][name] for run in runs if run["phases"].get(name) is not None]
        out[name] = round(statistics.median(values), 1) if values else None
    return out


def measure_browser(checkout: str, shop: Shop, merchant: dict, runs: int,
                    warmup: int, extra_args: list[str] = ()) -> dict:
    from playwright.sync_api import sync_playwright

    results = {name: [] for name in ("click_cold", "click_warm", "navigate_cold",
                                     "navigate_warm", "entry_cold", "entry_warm")}
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS + list(extra_args))
        version = browser.version
        try:
            for index in range(warmup + runs):
                keep = index >= warmup  # the first rounds warm the workers' templates up
                # The button: a fresh context, the merchant's page, then cold and warm clicks.
                context, page = probed_page(browser)
                page.goto(shop.origin + "/")
                page.wait_for_function("() => typeof BC !== 'undefined'")
                cold = click_to_chooser(page, checkout, order_fields(merchant), 1)
                page.evaluate("() => BC.close()")
                warm = click_to_chooser(page, checkout, order_fields(merchant), 2)
                context.close()
                # The baseline: the same browser navigating straight to a chooser.
                context, page = probed_page(browser)
                nav_cold = navigate_to(page, open_order(checkout, merchant))
                nav_warm = navigate_to(page, open_order(checkout, merchant))
                entry_warm = navigate_to(
                    page, f"{checkout}/pay?{urlencode(order_fields(merchant))}")
                context.close()
                context, page = probed_page(browser)
                entry_cold = navigate_to(
                    page, f"{checkout}/pay?{urlencode(order_fields(merchant))}")
                context.close()
                if keep:
                    for name, value in (("click_cold", cold), ("click_warm", warm),
                                        ("navigate_cold", nav_cold), ("navigate_warm", nav_warm),
                                        ("entry_cold", entry_cold), ("entry_warm", entry_warm)):
                        results[name].append(value)
        finally:
            browser.close()
    return {"chromium": version, "runs": results}


# --- the run --------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="measured rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    parser.add_argument("--channels", default=CHANNELS)
    parser.add_argument("--chromium-arg", action="append", default=[],
                        help="an extra Chromium switch (experiments; repeatable)")
    options = parser.parse_args()

    shop = Shop(free_port())
    instance = Instance()
    try:
        merchant = add_merchant(instance, "Bench Tea Shop", channels=options.channels,
                                return_hosts="shop.example.com", frame_origins=shop.origin)
        with Gunicorn("wsgi:app", instance.env, ready_path="/healthz") as app, shop:
            shop.page = SHOP_PAGE.format(checkout=app.url, app_id=merchant["app_id"])
            print(f"gunicorn {app.workers()}; SQLite; channels {options.channels}")
            print(f"checkout {app.url}, merchant page {shop.origin}/")
            sizes = script_sizes(app.url, merchant["app_id"])
            started = time.monotonic()
            timed = measure_browser(app.url, shop, merchant, options.runs, options.warmup,
                                    options.chromium_arg)
            took = time.monotonic() - started
    finally:
        instance.cleanup()

    print("\n(a) the button's script, as a merchant page loads it")
    print(f"  {'':<7} {'raw B':>7} {'gzip B':>7}  path  (Cache-Control)")
    for row in sizes["resources"]:
        encoded = f" (server: {row['server_encoding']})" if row["server_encoding"] else ""
        print(f"  {row['name']:<7} {row['raw_bytes']:>7} {row['gzip_bytes']:>7}  "
              f"{_label(row['url'])}{encoded}  ({row['cache_control']})")
    print(f"  {'total':<7} {sizes['raw_bytes']:>7} {sizes['gzip_bytes']:>7}  "
          f"({sizes['gzip_bytes'] / 1024:.2f} KB gzipped)")
    rough = sizes["button_rough_minified"]
    print(f"  (bc-button.js without comments and indentation: {rough['raw_bytes']} B, "
          f"{rough['gzip_bytes']} B gzipped)")
    size_met = sizes["gzip_bytes"] <= TARGET_GZIP
    print(f"  target <= {TARGET_GZIP // 1024} KB gzipped: {'met' if size_met else 'MISSED'}")

    runs = timed["runs"]
    stats = {name: summary([r["ms"] for r in values]) for name, values in runs.items()}
    observed = {name: summary([r["observed_ms"] for r in values])
                for name, values in runs.items()}
    print(f"\n(b) BC.click to a visible chooser, headless Chromium {timed['chromium']}, "
          f"{options.runs} rounds (+{options.warmup} warm-up) in {took:.0f} s")
    print(f"  {'':<40} {'median':>7} {'p90':>7} {'min':>7} {'max':>7}   observed median/p90")
    labels = {"click_cold": "BC.click → chooser in modal, cold",
              "click_warm": "BC.click → chooser in modal, warm",
              "navigate_cold": "goto /pay/<token> (baseline), cold",
              "navigate_warm": "goto /pay/<token> (baseline), warm",
              "entry_cold": "goto /pay?…sign (entry + 303), cold",
              "entry_warm": "goto /pay?…sign (entry + 303), warm"}
    for name, label in labels.items():
        s, o = stats[name], observed[name]
        print(f"  {label:<40} {s['median_ms']:>7.1f} {s['p90_ms']:>7.1f} {s['min_ms']:>7.1f} "
              f"{s['max_ms']:>7.1f}   {o['median_ms']:.1f}/{o['p90_ms']:.1f} ms")
    ratios = {}
    for kind in ("cold", "warm"):
        click = stats[f"click_{kind}"]["median_ms"]
        ratios[kind] = {"to_navigate": round(click / stats[f"navigate_{kind}"]["median_ms"], 2),
                        "to_entry": round(click / stats[f"entry_{kind}"]["median_ms"], 2)}
        print(f"  ratio {kind}: click ÷ goto chooser x{ratios[kind]['to_navigate']}, "
              f"click ÷ goto entry x{ratios[kind]['to_entry']} (medians)")
    medians = {name: phase_medians(values) for name, values in runs.items()}
    print("\n  where the time goes: median ms from the click (navigations: from their start),"
          "\n  from the chooser document's Navigation/Resource/Paint Timing")
    print(f"  {'':<44}" + "".join(f"{n.split('_')[0]:>10}" for n in labels))
    print(f"  {'':<44}" + "".join(f"{n.split('_')[1]:>10}" for n in labels))
    for phase, text in PHASES:
        cells = "".join(f"{medians[n][phase]:>10.1f}" if medians[n][phase] is not None
                        else f"{'-':>10}" for n in labels)
        print(f"  {text:<44}{cells}")

    path = save("button", {
        "machine": {**machine(), "chromium": timed["chromium"]}, "channels": options.channels,
        "script": sizes, "target_gzip_bytes": TARGET_GZIP, "target_met": size_met,
        "time": stats, "observed": observed, "ratios": ratios, "phases": medians,
        "samples_ms": {name: [round(r["ms"], 2) for r in values] for name, values in runs.items()}})
    print("\nsaved", path)
    missing = [name for name, values in runs.items() if len(values) != options.runs]
    if missing:
        print(f"INVALID RUN: missing measurements for {missing}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
