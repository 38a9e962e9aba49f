"""A small headless-Chromium driver over the Chrome DevTools Protocol (websocket-client only).

Used by tests/test_site.py. No browser download, no extra package: it runs the system's
``chromium`` (Debian's package; ``scripts/install-chromium.sh`` installs it) with a fresh profile
and talks to one tab over its DevTools websocket.

    with Chromium.launch() as browser:
        page = browser.visit("http://127.0.0.1:8000/intro.html")
        page.console_errors, page.failed_requests, page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import http.server
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    "--window-size=1280,900",
]
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """$CHROMIUM, else /usr/bin/chromium, else the first candidate on PATH."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


# --- a static file server on 127.0.0.1, in a thread ------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser that drops a connection (a cancelled request) is not an error here


class SiteServer:
    """Serve a folder on 127.0.0.1 on a free port (``with SiteServer(path) as base_url:``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        handler = partial(_QuietHandler, directory=str(self.root))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return self.base_url

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the page report --------------------------------------------------------------------------
@dataclass
class PageVisit:
    url: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Chromium:
    """One headless Chromium with a throw-away profile, driven through one tab."""

    def __init__(self, executable: str, timeout: float = 30.0) -> None:
        self.executable = executable
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: websocket.WebSocket | None = None
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        self._inflight: set[str] = set()

    @classmethod
    def launch(cls, executable: str | None = None, timeout: float = 30.0) -> Chromium:
        exe = executable or find_chromium()
        if not exe:
            raise BrowserError("Chromium not found (set $CHROMIUM or apt-get install chromium)")
        browser = cls(exe, timeout)
        browser._start()
        return browser

    # lifecycle
    def _start(self) -> None:
        cmd = [
            self.executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self.profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self._log = open(Path(self.profile) / "chromium.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.proc.poll() is not None:
                raise BrowserError(
                    f"Chromium exited with {self.proc.returncode}: {self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise BrowserError(f"Chromium did not start in {self.timeout} s: {self.log_tail()}")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    targets = json.load(r)
                page = next(t for t in targets if t.get("type") == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise BrowserError("Chromium's DevTools endpoint did not answer") from None
                time.sleep(0.1)
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=self.timeout, suppress_origin=True
        )
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Network.setCacheDisabled", cacheDisabled=True)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (Path(self.profile) / "chromium.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001
                pass
        if self.proc is not None and self.proc.poll() is None:
            try:  # the process group is ours: we started it in a new session
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # protocol
    def _recv(self, timeout: float) -> dict[str, Any] | None:
        assert self.ws is not None
        self.ws.settimeout(timeout)
        try:
            message = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        method = message.get("method")
        if method == "Network.requestWillBeSent":
            self._inflight.add(message["params"]["requestId"])
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self._inflight.discard(message["params"]["requestId"])
        if method:
            self._events.append(message)
        return message

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        assert self.ws is not None
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = self._recv(max(0.01, deadline - time.monotonic()))
            if message and message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise BrowserError(f"{method}: no answer in {self.timeout} s")

    def wait_for(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + (timeout or self.timeout)
        seen = len(self._events)
        while True:
            for event in self._events[seen:]:
                if event["method"] == method:
                    return event["params"]
            seen = len(self._events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no {method} in {timeout or self.timeout} s")
            self._recv(min(remaining, 0.5))

    def pump(self, seconds: float) -> None:
        """Read events for a while."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            self._recv(remaining)

    def wait_network_idle(self, quiet: float = 0.5, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if self._inflight:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
            self._recv(0.1)

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        result = self.send(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 8000) -> None:
        """A PNG of the viewport, or of the whole page (up to ``max_height`` CSS pixels)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], max_height),
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def key(self, key: str, code: str, key_code: int) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            self.send(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                nativeVirtualKeyCode=key_code,
            )

    # a whole visit
    def visit(self, url: str, local_prefix: str, settle: str | None = None) -> PageVisit:
        """Open ``url``, wait for load, for ``settle`` (a JS promise expression) and network idle.

        Collects console errors, uncaught exceptions, error log entries, failed requests
        (network errors and HTTP >= 400) and requests that leave ``local_prefix``.
        """
        self._events.clear()
        self._inflight.clear()
        visit = PageVisit(url)
        result = self.send("Page.navigate", url=url)
        if result.get("errorText"):
            visit.failed_requests.append(f"{url}: {result['errorText']}")
            return visit
        frame = result.get("frameId")
        self.wait_for("Page.loadEventFired")
        # follow redirects (the index's <meta http-equiv="Refresh">): wait until every navigation
        # the main frame started has finished loading
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            self.wait_network_idle()
            started = sum(
                1
                for e in self._events
                if e["method"] == "Page.frameStartedLoading" and e["params"]["frameId"] == frame
            )
            loaded = sum(1 for e in self._events if e["method"] == "Page.loadEventFired")
            if loaded >= started:
                break
            self.wait_for("Page.loadEventFired")
        if settle:
            self.evaluate(settle, await_promise=True)
        self.wait_network_idle()
        self._collect(visit, local_prefix)
        return visit

    def _collect(self, visit: PageVisit, local_prefix: str) -> None:
        urls: dict[str, str] = {}
        for event in self._events:
            method, params = event["method"], event["params"]
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                urls[params["requestId"]] = url
                visit.requests.append(url)
                if not url.startswith((local_prefix, "data:", "blob:", "about:")):
                    visit.external_requests.append(url)
            elif method == "Network.responseReceived":
                status = params["response"]["status"]
                if status >= 400:
                    visit.failed_requests.append(f"{params['response']['url']}: HTTP {status}")
            elif method == "Network.loadingFailed":
                url = urls.get(params["requestId"], params["requestId"])
                visit.failed_requests.append(f"{url}: {params.get('errorText')}")
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                text = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
                visit.console_errors.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details.get("text")
                visit.console_errors.append(f"uncaught: {text}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                visit.console_errors.append(
                    f"{entry['source']}: {entry['text']} {entry.get('url', '')}"
                )
