"""Embed benchmark: what ``<pasar-live>`` costs a shopper, measured in Chromium.

Run it from the repository root (with the dev install and a built front end)::

    .venv/bin/python bench/embed.py              # 10 cold loads; 3 + 3 Slow 3G, 1 + 1 Slow 4G
    .venv/bin/python bench/embed.py --runs 20 --slow3g-runs 5 --no-broadcast

What it does:

* seeds the demo vendor (Toko Demo: a live show with a pinned product and a
  running deal) in a fresh data directory (SQLite), starts ``pasar serve`` on a
  free loopback port and ``pasar broadcast`` (the synthetic test pattern, over
  WHIP) so the show has live video;
* serves a **vendor's page on another origin** (another loopback port, added to
  the vendor's allowed embed origins): ``<script type="module"
  src="{pasar}/embed.js">`` and ``<pasar-live show="…">`` with no ``locale``
  attribute, so the player speaks the vendor's default (Indonesian) and loads
  that language's chunk, as a shopper of that shop gets it;
* drives Debian's Chromium (Playwright, headless), each load in a **fresh
  browser context** (an empty HTTP cache and storage: a first visit);
* **sizes**: every script the player loaded from Pasar (``/embed.js``,
  ``/embed/c/…``) while playing the live show, as Chromium received it
  (Playwright's response bodies, headers and ``request.sizes()``). The gzip
  figure is the size as sent when Pasar sent gzip, else the body compressed
  here at gzip -6 (Chromium asks for brotli too, and Pasar sends its brotli
  twins then: that size, as received, is printed beside it). ``gzip_kb`` is the
  total for one language (entry + hls.js chunk + the language's chunk),
  ``entry_gzip_kb`` embed.js alone; kB = 1,000 bytes. Each language's total is
  printed too;
* **first paint**: from navigation start (``performance.timeOrigin``) to the
  element's ``pasar:shell`` mark (set the first time its shell — title, host,
  product card — is rendered), over loopback, a phone viewport (375×812), one
  unmeasured load first (the server's first requests), then ``--runs`` loads:
  median, p90, min and max. The next frame after the mark (``shell_frame``) and
  when the shell is in the vendor's language, the chat is connected and video
  plays are printed too;
* **Slow 3G**: the same page with Chromium's network throttling
  (``Network.emulateNetworkConditions``) at Chrome DevTools' "Slow 3G" preset
  (named "3G" in recent DevTools): 2,000 ms latency, 50,000 B/s (400 kbit/s) down
  and up. Per load: when the shell, the product card and a connected chat
  (composer with its send button enabled) are on screen, polled every frame,
  from navigation start, which includes the vendor's own page (``page_ms``: one
  more round trip); once without a ``locale`` attribute (the vendor's default,
  known from the show document) and once with ``locale="id"``. The "Slow 4G"
  preset (formerly "Fast 3G": 562.5 ms, 180,000 B/s down, 84,375 B/s up) is
  printed for comparison.

The last line is::

    embed: gzip_kb=<total> entry_gzip_kb=<entry> first_paint_ms=<median>

The server, the broadcast and the vendor's page are stopped on every exit.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _media
import _proc
import _servers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 812}
MILESTONES = ("shell", "shell_frame", "lang", "chat", "video")
LANGS = ["en", "id", "th", "vi", "fil", "ms", "zh-Hans"]

# Chrome DevTools' presets (bytes/s, ms), as its front end defines them.
SLOW_3G = {
    "latency": 400 * 5,
    "downloadThroughput": 500 * 1000 / 8 * 0.8,
    "uploadThroughput": 500 * 1000 / 8 * 0.8,
}
SLOW_4G = {
    "latency": 150 * 3.75,
    "downloadThroughput": 1.6 * 1000 * 1000 / 8 * 0.9,
    "uploadThroughput": 750 * 1000 / 8 * 0.9,
}

PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Toko Demo</title><link rel="icon" href="data:,">
<script type="module" src="{pasar}/embed.js"></script>
</head><body style="margin:0;padding:16px;font-family:sans-serif">
<h1>Toko Demo</h1>
<pasar-live show="{show}" {attrs}></pasar-live>
</body></html>"""

# Runs in the vendor's page before anything else: records, in ms since
# navigation start, when each milestone was first on screen (polled every frame;
# the shell's own mark is exact) and the frame after the mark.
PROBE = """(() => {
  const t = (window.__pasar = {});
  const root = () => document.querySelector('pasar-live')?.shadowRoot;
  // Wrapped, not observed: a PerformanceObserver's callback runs as a
  // low-priority task, too late to ask for the frame right after the mark.
  const mark = performance.mark.bind(performance);
  performance.mark = (name, options) => {
    const entry = mark(name, options);
    if (name === 'pasar:shell' && t.shell === undefined) {
      t.shell = entry.startTime;
      requestAnimationFrame(() => setTimeout(() => { t.shell_frame = performance.now(); }, 0));
    }
    return entry;
  };
  document.addEventListener('pasar:ready', () => { t.ready = performance.now(); }, true);
  const poll = () => {
    const r = root();
    const now = performance.now();
    if (r) {
      const el = r.host;
      if (t.card === undefined && r.querySelector('.product-card .buy')) t.card = now;
      const send = r.querySelector('.composer button.send');
      const chat = r.querySelector('input[name=chat]') && send && !send.disabled;
      if (t.chat === undefined && chat) t.chat = now;
      if (t.lang === undefined && t.shell !== undefined && el.lang === window.__want) t.lang = now;
      const v = r.querySelector('video');
      const playing = v && v.readyState >= 2 && v.videoWidth > 0 && !v.paused;
      if (t.video === undefined && playing) t.video = now;
    }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})();"""


# What the page fetched, when (ms since navigation start): start and end of each.
WATERFALL = """() => [performance.getEntriesByType('navigation')[0], ...performance
  .getEntriesByType('resource')].map((e) => {
    const u = new URL(e.name);
    const path = u.pathname.replace(/^\\/embed\\/c\\//, 'c/').replace(/-[\\w-]{8}\\.js$/, '.js');
    return `${path.slice(0, 40)} ${Math.round(e.startTime)}–${Math.round(e.responseEnd)}`;
  }).join(', ')"""


def say(line: str) -> None:
    print(f"embed: {line}", flush=True)


@dataclass
class Demo:
    api_key: str
    show_id: str
    stream_key: str


@contextlib.contextmanager
def vendor_page() -> Iterator[str]:
    """The vendor's site: one page, on its own loopback port (another origin)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = dict(
                part.split("=", 1) for part in urlsplit(self.path).query.split("&") if "=" in part
            )
            from urllib.parse import unquote

            body = PAGE.format(
                pasar=unquote(query.get("pasar", "")),
                show=unquote(query.get("show", "")),
                attrs=unquote(query.get("attrs", "")),
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((_servers.HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="vendor-page", daemon=True)
    thread.start()
    try:
        yield f"http://{_servers.HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def page_url(shop: str, pasar: str, show: str, attrs: str = "") -> str:
    from urllib.parse import quote

    return f"{shop}/?pasar={quote(pasar, safe='')}&show={quote(show)}&attrs={quote(attrs)}"


def expected_lang(attrs: str) -> str:
    found = re.search(r'locale="([^"]+)"', attrs)
    return found[1] if found else "id"  # the demo vendor's default


def load(
    browser: Any,
    url: str,
    *,
    want: str,
    until: tuple[str, ...],
    network: dict[str, float] | None = None,
    timeout: float = 60.0,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """One cold load in a fresh context: (milestones in ms, Pasar scripts, page errors).
    ``until``: the milestones to wait for ("shell", "lang", "chat", "video", …)."""
    context = browser.new_context(viewport=PHONE)
    try:
        context.add_init_script(f"window.__want = {json.dumps(want)};\n{PROBE}")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        scripts: list[dict[str, Any]] = []

        def finished(request: Any) -> None:
            path = urlsplit(request.url).path
            if not (path == "/embed.js" or path.startswith("/embed/c/")):
                return
            response = request.response()
            if response is None:
                return
            scripts.append(
                {
                    "path": path,
                    "body": response.body(),
                    "encoding": response.headers.get("content-encoding", ""),
                    "wire": request.sizes()["responseBodySize"],
                }
            )

        page.on("requestfinished", finished)
        if network is not None:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", {"offline": False, **network})
        page.goto(url, wait_until="commit", timeout=timeout * 1000)
        page.wait_for_function(
            "(keys) => window.__pasar && keys.every((k) => window.__pasar[k] !== undefined)",
            arg=list(until),
            timeout=timeout * 1000,
            polling=50,
        )
        marks: dict[str, Any] = page.evaluate("() => ({...window.__pasar})")
        marks["waterfall"] = page.evaluate(WATERFALL)
        # the vendor's own page arrived (the part of the wait that is not the player's)
        marks["page"] = page.evaluate(
            "() => performance.getEntriesByType('navigation')[0].responseEnd"
        )
        return marks, scripts, errors
    finally:
        context.close()


def gz(script: dict[str, Any]) -> int:
    """The gzip size: as sent when the server sent gzip, else the body at gzip -6
    (served uncompressed, or in another coding: ``wire`` has what was sent)."""
    if script["encoding"] == "gzip":
        return int(script["wire"])
    return len(gzip.compress(script["body"], compresslevel=6, mtime=0))


def wire(script: dict[str, Any]) -> int:
    """Body bytes as Chromium received them (encoded size)."""
    return int(script["wire"]) if script["encoding"] else len(script["body"])


def kb(n: float) -> str:
    return f"{n / 1000:.1f}"


def summary(values: list[float]) -> str:
    s = sorted(values)
    return (
        f"median {statistics.median(s):.0f} ms, p90 {_media.quantile(s, 0.9):.0f}, "
        f"min {s[0]:.0f}, max {s[-1]:.0f} (n={len(s)})"
    )


def machine_line() -> str:
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    from importlib.metadata import version

    return _proc.machine_line(
        chromium, f"Playwright {version('playwright')}", f"Python {sys.version.split()[0]}"
    )


def bench(
    args: argparse.Namespace,
    server: _servers.PasarServer,
    children: list[subprocess.Popen[bytes]],
) -> None:
    from playwright.sync_api import sync_playwright

    say(f"machine: {machine_line()}")
    say(_servers.code_line())
    server.start(args.port, demo=True)
    assert server.demo is not None
    demo = Demo(server.api_key, server.demo["live_show_id"], server.demo["live_stream_key"])
    say(f"server: pasar serve pid {server.pid} on {server.base} (SQLite, demo seed)")
    with vendor_page() as shop:
        status = server.api("PATCH", "/api/v1/vendor", {"allowed_origins": [server.base, shop]})
        assert shop in status["allowed_origins"], status
        say(f"vendor page: {shop} (another origin, allowed)")
        if not args.no_broadcast:
            env = {**server.env(), "PASAR_STREAM_KEY": demo.stream_key}
            broadcast = [sys.executable, "-m", "pasar", "broadcast", f"{server.base}/whip"]
            children.append(_servers.start_process(broadcast, env))
            wait_live(server, demo.show_id)
            say(f"broadcast: pasar broadcast pid {children[-1].pid} (synthetic, WHIP), live")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                measure(args, browser, server, shop, demo, children)
            finally:
                browser.close()


def wait_live(server: _servers.PasarServer, show_id: str) -> None:
    import urllib.request

    until = time.time() + 120
    while time.time() < until:
        playlist = f"{server.base}/hls/{show_id}/legacy.m3u8"
        with contextlib.suppress(OSError), urllib.request.urlopen(playlist, timeout=5) as r:
            if b"#EXTINF" in r.read():
                return
        time.sleep(0.3)
    raise TimeoutError("no HLS segment 120 s after starting the broadcast")


def measure(
    args: argparse.Namespace,
    browser: Any,
    server: _servers.PasarServer,
    shop: str,
    demo: Demo,
    children: list[subprocess.Popen[bytes]],
) -> None:
    url = page_url(shop, server.base, demo.show_id)
    # every milestone of a load over loopback (no video without the broadcast)
    everything = (
        "shell",
        "shell_frame",
        "lang",
        "chat",
        *(() if args.no_broadcast else ("video",)),
    )

    # -- sizes: what the player loaded while playing, per language -----------------
    totals: dict[str, int] = {}
    received: dict[str, int] = {}
    entry = raw = 0
    encodings: set[str] = set()
    for lang in LANGS:
        attrs = f'locale="{lang}"'
        _, scripts, errors = load(
            browser, page_url(shop, server.base, demo.show_id, attrs), want=lang, until=everything
        )
        if errors:
            raise RuntimeError(f"page errors ({lang}): {errors}")
        paths = sorted({s["path"] for s in scripts})
        if len(paths) != len(scripts):
            raise RuntimeError(f"a script was loaded twice: {[s['path'] for s in scripts]}")
        if "/embed.js" not in paths:
            raise RuntimeError(f"the page did not load /embed.js: {paths}")
        for s in scripts:
            encodings.add(s["encoding"] or "none")
            if s["path"] == "/embed.js":
                entry, raw = gz(s), len(s["body"])
        totals[lang] = sum(gz(s) for s in scripts)
        received[lang] = sum(wire(s) for s in scripts)
        if lang == "id":
            say(
                "scripts (vendor default, id): "
                + ", ".join(
                    f"{s['path']} {kb(len(s['body']))} kB raw, {kb(wire(s))} kB received "
                    f"({s['encoding'] or 'uncompressed'}), {kb(gz(s))} kB gzip"
                    for s in scripts
                )
            )
    say(
        f"served Content-Encoding: {', '.join(sorted(encodings))} (gzip: as sent when sent so, "
        "else the body at gzip -6)"
    )
    say("total per language (kB gzip): " + ", ".join(f"{k} {kb(v)}" for k, v in totals.items()))
    say("received per language (kB): " + ", ".join(f"{k} {kb(v)}" for k, v in received.items()))
    say(f"entry: /embed.js {kb(raw)} kB raw, {kb(entry)} kB gzip -6")
    if args.no_broadcast:
        say("warning: --no-broadcast: no video, so the totals leave out the hls.js chunk")

    # -- first paint over loopback ----------------------------------------------------
    load(browser, url, want="id", until=everything)  # warm the server, not the browser
    ours = _proc.descendants({server.pid, os.getpid(), *(c.pid for c in children)})
    busy = _proc.Busy(ours)
    runs: list[dict[str, Any]] = []
    for _ in range(args.runs):
        marks, _, errors = load(browser, url, want="id", until=everything)
        if errors:
            raise RuntimeError(f"page errors: {errors}")
        runs.append(marks)
    share, others = busy.report()
    say(f"loopback, {args.runs} cold loads: shell (mark) {summary([r['shell'] for r in runs])}")
    for key, what in (
        ("shell_frame", "next frame after the mark"),
        ("lang", "shell in the vendor's language (id)"),
        ("ready", "pasar:ready"),
        ("chat", "chat connected"),
        ("video", "video playing"),
    ):
        values = [r[key] for r in runs if key in r]
        if values:
            say(f"loopback: {what} {summary(values)}")
    say(
        "loopback per load (shell/frame/lang/chat/video ms): "
        + ", ".join("/".join(f"{r[k]:.0f}" if k in r else "-" for k in MILESTONES) for r in runs)
    )
    say(f"loopback waterfall (last load, ms): {runs[-1]['waterfall']}")
    top = ", ".join(f"{name} {100 * c:.0f} %" for name, c in others)
    say(f"machine: {100 * share:.0f} % busy during the loads; other processes: {top or 'none'}")
    if any(c > 0.1 for _, c in others):
        say("warning: other processes were busy during the loads; rerun when it is quiet")

    # -- throttled: the page without a locale attribute (the vendor's default, known
    # only from the show document) and with one (its catalogue can load alongside) --
    for name, network, n in (
        ("slow3g", SLOW_3G, args.slow3g_runs),
        ("slow4g", SLOW_4G, args.slow4g_runs),
    ):
        for setup, attrs in (("vendor-default", ""), ("attribute", 'locale="id"')):
            if n <= 0:
                continue
            got: list[dict[str, Any]] = []
            for _ in range(n):
                marks, _, errors = load(
                    browser,
                    page_url(shop, server.base, demo.show_id, attrs),
                    want="id",
                    until=("shell", "card", "chat", "lang"),
                    network=network,
                    timeout=120,
                )
                if errors:
                    raise RuntimeError(f"page errors ({name}): {errors}")
                got.append(marks)
            keys = ("page", "shell", "card", "chat", "lang")
            med = {k: statistics.median(r[k] for r in got if k in r) for k in keys}
            detail = "; ".join(
                f"{k} " + "/".join(f"{r[k]:.0f}" for r in got if k in r) for k in keys
            )
            say(f"{name}, locale {setup}: {n} loads, ms from navigation start: {detail}")
            say(f"{name}, locale {setup}: waterfall (first load, ms): {got[0]['waterfall']}")
            print(
                f"{name}: locale={setup} shell_ms={med['shell']:.0f} "
                f"product_card_ms={med['card']:.0f} chat_ms={med['chat']:.0f} "
                f"localized_ms={med['lang']:.0f} page_ms={med['page']:.0f}",
                flush=True,
            )

    first_paint = statistics.median(r["shell"] for r in runs)
    print(
        f"embed: gzip_kb={kb(totals['id'])} entry_gzip_kb={kb(entry)} "
        f"first_paint_ms={first_paint:.0f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=10, help="cold loads over loopback")
    p.add_argument("--slow3g-runs", type=int, default=3, help="cold loads at Slow 3G")
    p.add_argument("--slow4g-runs", type=int, default=1, help="cold loads at Slow 4G (0: none)")
    p.add_argument("--no-broadcast", action="store_true", help="no live video (no hls.js chunk)")
    p.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data dir and log")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        p.error(f"{CHROMIUM} not found (apt-get install chromium)")
    _servers.stop_on_signals()
    from playwright.sync_api import Error as BrowserError

    server = _servers.PasarServer("embed", keep=args.keep)
    children: list[subprocess.Popen[bytes]] = []

    def stop_ours() -> None:
        for child in children:
            _servers.stop_process(child, grace=20)

    return _servers.run_reporting(
        say,
        server,
        lambda: bench(args, server, children),
        errors=(*_servers.ERRORS, BrowserError),
        before_stop=stop_ours,
    )


if __name__ == "__main__":
    _servers.exit_with(main, "embed")
