"""End to end: ``zeronlp serve`` on a free loopback port, its pages driven in headless Chromium through
the DevTools protocol — keys typed, buttons clicked, the bars / heatmap / map checked in the DOM —
and a screenshot of each kind of page saved in the run's directory (``screenshot.png``).

Skipped only when no Chromium is installed (Debian: ``apt-get install chromium``). Set
``ZERONLP_SCREENSHOTS=DIR`` to also copy the screenshots there (``docs/screenshots`` for the README).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install 'zeronlp[serve]'")
websocket = pytest.importorskip("websocket", reason="the test extra's websocket-client drives the browser")

from zeronlp.serve import load_runs, make_server  # noqa: E402

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(name)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found (apt-get install chromium)")
WIDTH = 1000
TIMEOUT = 20.0


class Browser:
    """Headless Chromium with one page, spoken to over the DevTools protocol (one websocket)."""

    def __init__(self, profile: Path):
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--no-proxy-server", "--hide-scrollbars",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url, seen, deadline = None, [], time.monotonic() + TIMEOUT
        while url is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            seen.append(line)
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            url = found.group(1) if found else None
        if url is None:
            self.close()
            raise RuntimeError("Chromium did not start:\n" + "".join(seen[-20:]))
        # keep reading stderr so that Chromium never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()
        self.socket = websocket.create_connection(url, timeout=TIMEOUT, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.command(f"{domain}.enable")
        self.command("Emulation.setDeviceMetricsOverride", width=WIDTH, height=800, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, session: str | None = None, **params) -> dict:
        message_id = next(self.ids)
        message = {"id": message_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def command(self, method: str, **params) -> dict:
        return self.send(method, self.session, **params)

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str):
        """Poll ``expression`` until it is truthy; return its value."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; page text:\n{self.evaluate('document.body.innerText')}")

    def goto(self, url: str) -> None:
        self.command("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && document.body.dataset.ready === '1'", f"{url} to load")

    def type_into(self, selector: str, text: str) -> None:
        """Clear the field, focus it and type ``text`` key by key."""
        self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.value = ''; "
                      "e.focus(); })()")
        for char in text:
            self.command("Input.dispatchKeyEvent", type="keyDown", text=char, key=char, unmodifiedText=char)
            self.command("Input.dispatchKeyEvent", type="keyUp", key=char)

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element."""
        box = self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.command("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def screenshot(self, path: Path) -> Path:
        """The whole page (as tall as its content) as a PNG."""
        self.evaluate("window.scrollTo(0, 0)")
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.command("Emulation.setDeviceMetricsOverride", width=WIDTH, height=min(height, 4000), deviceScaleFactor=1,
                     mobile=False)
        data = self.command("Page.captureScreenshot", format="png")["data"]
        self.command("Emulation.setDeviceMetricsOverride", width=WIDTH, height=800, deviceScaleFactor=1, mobile=False)
        path.write_bytes(base64.b64decode(data))
        return path

    def problems(self) -> list[str]:
        """Script exceptions and console errors (a CSP violation would be one) seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error" \
                    and "status of 400" not in params["entry"].get("text", ""):
                found.append(params["entry"].get("text", ""))
        return found

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            if getattr(self, "socket", None):
                self.send("Browser.close")
        except Exception:  # noqa: BLE001 (closing anyway)
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def server(runs):
    """``zeronlp serve`` for the four runs, in a thread, on a free loopback port: its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    uvicorn_server = make_server(load_runs([f"{kind}={path}" for kind, path in runs.items()]), "127.0.0.1", port)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uvicorn_server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


def _save(browser: Browser, runs: dict, kind: str) -> None:
    path = browser.screenshot(runs[kind] / "screenshot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
    target = os.environ.get("ZERONLP_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(target) / f"serve-{kind}.png")


BAR_WORDS = "[...document.querySelectorAll('{} .bar-word')].map(e => e.textContent)"
BAR_WIDTHS = "[...document.querySelectorAll('{} .bar-fill')].map(e => e.getBoundingClientRect().width)"


def test_language_model_page_shows_next_word_bars(server, browser, runs):
    browser.goto(f"{server}/runs/lm")
    context = "you say goodbye and i say"
    browser.type_into("#lm-context", context)
    browser.wait_for(f"document.querySelector('#next-bars')?.dataset.query === {json.dumps(context)}",
                     "the bars for the typed context")
    words = browser.evaluate(BAR_WORDS.format("#next-bars"))
    widths = browser.evaluate(BAR_WIDTHS.format("#next-bars"))
    assert len(words) == 10 and words[0] == "hello"
    assert widths[0] > 100 and widths == sorted(widths, reverse=True)

    browser.type_into("#gen-start", "the cat")
    browser.type_into("#gen-length", "8")
    browser.type_into("#gen-seed", "3")
    browser.click("#gen-go")
    first = browser.wait_for("document.getElementById('gen-output')?.textContent", "a generated text")
    assert first.startswith("the cat ") and len(first.split()) >= 6
    browser.evaluate("document.getElementById('gen-output').remove()")
    browser.click("#gen-go")
    assert browser.wait_for("document.getElementById('gen-output')?.textContent", "the text again") == first
    _save(browser, runs, "lm")


def test_seq2seq_page_shows_the_answer_and_attention(server, browser, runs):
    browser.goto(f"{server}/runs/seq2seq")
    browser.type_into("#s2s-input", "six one two")
    browser.click("#s2s-go")
    answer = browser.wait_for("document.getElementById('s2s-answer')?.textContent", "the answer")
    assert answer == "seis uno dos"
    rows = browser.evaluate("document.querySelectorAll('#heat-0 tbody tr').length")
    cols = browser.evaluate("document.querySelectorAll('#heat-0 thead th').length - 1")
    assert rows >= 3 and cols >= 3
    _save(browser, runs, "seq2seq")


def test_classifier_page_shows_class_probabilities(server, browser, runs):
    browser.goto(f"{server}/runs/classifier")
    text = "a wonderful story , loved the acting"
    browser.type_into("#cls-input", text)
    browser.wait_for(f"document.querySelector('#cls-bars')?.dataset.query === {json.dumps(text)}", "class bars")
    assert browser.evaluate("document.getElementById('cls-label').textContent") == "pos"
    assert sorted(browser.evaluate(BAR_WORDS.format("#cls-bars"))) == ["neg", "pos"]
    _save(browser, runs, "classifier")


def test_vectors_page_neighbours_analogy_map_and_an_error(server, browser, runs):
    browser.goto(f"{server}/runs/vectors")
    browser.wait_for("document.querySelectorAll('#vec-map text').length >= 5", "the word map")
    browser.type_into("#vec-word", "cat")
    browser.click("#vec-near-go")
    browser.wait_for("document.querySelector('#vec-neighbors')?.dataset.query === 'cat'", "neighbours of cat")
    assert "cat" not in browser.evaluate(BAR_WORDS.format("#vec-neighbors"))
    for key, word in zip("abc", ("cat", "fish", "meat")):
        browser.type_into(f"#vec-{key}", word)
    browser.click("#vec-analogy-go")
    browser.wait_for("document.querySelectorAll('#vec-analogy .bar').length === 5", "the analogy's answers")
    _save(browser, runs, "vectors")

    browser.type_into("#vec-word", "unicorn")
    browser.click("#vec-near-go")
    error = browser.wait_for("document.querySelector('.error')?.textContent", "an error message")
    assert "unicorn" in error and "not in vocabulary" in error


def test_index_page_lists_the_runs_and_nothing_leaves_the_machine(server, browser, runs):
    browser.goto(server + "/")
    names = browser.wait_for("[...document.querySelectorAll('a.card h2')].map(e => e.firstChild.textContent)",
                             "the list of runs")
    assert names == list(runs)
    assert not browser.problems(), browser.problems()
    urls = browser.requested_urls()
    assert urls and all(url.startswith(server + "/") for url in urls), urls
