"""A whole reader study in a real headless browser (Debian's chromium, driven over the DevTools protocol on a
pipe, so no driver library is needed): open a reviewer link, rate by clicking and by keyboard, kill the server
mid-study, restart it, reload, continue, finish; then check the stored answers, the export and the summary.
Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from xraybench.cli import main
from xraybench.review.study import CreateConfig, create_study, open_study
from xraybench.testing.browser import CHROMIUM, MISSING_REASON, chromium_command

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING_REASON)
REPO = Path(__file__).resolve().parents[2]
KEYS = {  # key -> (code, Windows virtual key code, text)
    **{c: (f"Key{c.upper()}", ord(c.upper()), c) for c in "abcdjknprst"},
    **{d: (f"Digit{d}", ord(d), d) for d in "12345"},
    "ArrowLeft": ("ArrowLeft", 37, ""),
    "ArrowRight": ("ArrowRight", 39, ""),
    "Escape": ("Escape", 27, ""),
}


class Chromium:
    """Headless chromium with the DevTools protocol on fds 3/4 (`--remote-debugging-pipe`), one page."""

    def __init__(self, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def plumb() -> None:  # in the child: the protocol's fixed descriptors
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        cmd = chromium_command(profile, "--remote-debugging-pipe", "--window-size=1400,1000", "about:blank")
        self.proc = subprocess.Popen(
            cmd, preexec_fn=plumb, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session is not None:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 16)
                assert chunk, "chromium closed the DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply["error"]
                return reply["result"]

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait(self, expression: str, what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return false; }} }})()")
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {expression}")

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def click(self, selector: str) -> None:
        """A real mouse click at the element's centre (after scrolling it into view)."""
        rect = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": rect[0], "y": rect[1], "button": "left", "clickCount": 1},
            )

    def press(self, key: str) -> None:
        code, vk, text = KEYS[key]
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
        if text:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk})

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`xraybench review serve` in its own process, so a test can kill it like a crash would."""

    def __init__(self, root: Path, name: str, port: int):
        self.args = [
            sys.executable,
            "-m",
            "xraybench",
            "review",
            "serve",
            "--name",
            name,
            "--root",
            str(root),
            "--port",
            str(port),
            "--quiet",
        ]
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/static/page.css", timeout=2).close()
                return
            except OSError:
                assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
                time.sleep(0.1)
        raise AssertionError("the review server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chrome = Chromium(tmp_path / "profile")
    yield chrome
    chrome.close()


@pytest.fixture
def server_factory() -> Iterator[Callable[[Path, str, int], Server]]:
    made: list[Server] = []

    def make(root: Path, name: str, port: int) -> Server:
        made.append(Server(root, name, port))
        return made[-1]

    yield make
    for s in made:
        if s.proc is not None and s.proc.poll() is None:
            s.kill()


def state(chrome: Chromium) -> dict[str, Any]:
    return chrome.js(
        "({position: document.body.dataset.position, progress: document.getElementById('progress')"
        ".textContent, pressed: Array.from(document.querySelectorAll('fieldset.dimension')).map(f => "
        "{const b = f.querySelector('button[aria-pressed=\"true\"]'); return b ? b.dataset.choice : null;})"
        ", active: document.body.dataset.active, saves: Number(document.body.dataset.saves || 0)})"
    )


def wait_case(chrome: Chromium, position: int) -> None:
    chrome.wait(
        f"document.body.dataset.state === 'ready' && document.body.dataset.position === '{position}'",
        f"case {position}",
    )


def wait_saves(chrome: Chromium, n: int) -> None:
    chrome.wait(f"Number(document.body.dataset.saves || 0) >= {n}", f"{n} saved answers")


def test_a_full_study_in_chromium(
    tmp_path: Path, runs: tuple[Path, Path], browser: Chromium, server_factory: Callable[[Path, str, int], Server]
) -> None:
    root = tmp_path / "reviews"
    port = free_port()
    _, tokens = create_study(
        CreateConfig(
            name="live",
            task="demo_findings",
            cases=4,
            reviewers=["a", "b"],
            seed=5,
            runs=[str(r) for r in runs],
            root=str(root),
        )
    )
    store = open_study(root, "live")
    placed = store.assignments("a")
    server = server_factory(root, "live", port)
    server.start()
    url = f"http://127.0.0.1:{port}/r/{tokens['a']}"

    browser.open(url)
    wait_case(browser, 0)
    first = state(browser)
    assert first["progress"] == "0 / 4" and first["pressed"] == [None] * 5 and first["active"] == "relevance"
    # the blinded layout: model A's three boxes and three steps on its recorded side, B's one box on the other
    a_side, b_side = ("left", "right") if placed[0].left_slot == "A" else ("right", "left")
    assert browser.js(f"document.querySelectorAll('#side-{a_side} svg rect').length") == 3
    assert browser.js(f"document.querySelectorAll('#side-{b_side} svg rect').length") == 1
    assert browser.js(f"document.querySelectorAll('#side-{a_side} .steps li').length") == 3
    assert browser.js(f"document.querySelector('#side-{a_side} svg').getAttribute('viewBox')") == "0 0 512 512"
    assert browser.js(f"document.querySelector('#side-{b_side} svg').getAttribute('viewBox')") == "0 0 256 256"
    assert browser.js(f"document.querySelector('#side-{b_side} .steps-heading').textContent") == "Reasoning"
    assert browser.js("document.body.innerText").count("model-alpha") == 0, "model names must stay hidden"
    # hostile markup in an output is shown as text, never run
    assert "<img src=x onerror=" in browser.js(f"document.querySelector('#side-{a_side} .steps').textContent")
    assert browser.js("document.body.dataset.pwned") is None
    assert browser.js("document.querySelectorAll('.steps img, .steps b').length") == 0
    # the X-ray itself loads (its request may still be in flight when the case's text is in place)
    assert browser.wait("document.querySelector('#side-left img').naturalWidth", "the X-ray image to load") > 0
    # per-step toggles hide that step's boxes; the reference waits behind its button
    browser.click(f"#side-{a_side} .steps li:nth-child(2) input.box-toggle")
    assert (
        browser.js(
            f"getComputedStyle(document.querySelector('#side-{a_side} g[data-group=\"{a_side}-step-1\"]')).display"
        )
        == "none"
    )
    assert browser.js("document.getElementById('reference').hidden") is True
    browser.click("#reveal")
    assert browser.js("document.getElementById('reference').hidden") is False
    assert browser.js("document.getElementById('reference').textContent") == store.case(placed[0].case_id).reference

    # case 1 by mouse
    clicks = ["left", "right", "tie", "left", "left"]
    for key, choice in zip(("relevance", "correctness", "completeness", "grounded", "overall"), clicks, strict=True):
        browser.click(f'fieldset[data-key="{key}"] button[data-choice="{choice}"]')
    wait_saves(browser, 5)
    browser.wait("document.getElementById('progress').textContent === '1 / 4'", "progress 1 / 4")
    browser.click("#next")
    wait_case(browser, 1)

    # case 2 by keyboard, with a comment
    for key in ("a", "d", "s", "t", "ArrowRight"):
        browser.press(key)
    wait_saves(browser, 10)
    assert state(browser)["pressed"] == ["left", "right", "tie", "tie", "right"]
    browser.press("c")
    browser.send("Input.insertText", {"text": "left cites the wrong lobe <b>!</b>"})
    browser.press("Escape")
    wait_saves(browser, 11)
    browser.press("n")
    wait_case(browser, 2)
    browser.press("2")  # pick the second question, then answer it
    browser.press("ArrowLeft")
    wait_saves(browser, 12)

    # the server dies mid-study: a click now is reported unsaved, and nothing already given is lost
    server.kill()
    browser.press("d")
    browser.wait("!document.getElementById('error').hidden", "the not-saved error")
    assert state(browser)["pressed"][2] is None, "an unsaved answer must not look saved"
    server.start()
    browser.open(url)
    wait_case(browser, 2)  # reload continues at the first unfinished case
    resumed = state(browser)
    assert resumed["progress"] == "2 / 4" and resumed["pressed"] == [None, "left", None, None, None]
    assert resumed["active"] == "relevance"
    for key in ("a", "a", "d", "s"):
        browser.press(key)
    wait_saves(browser, 4)
    browser.press("j")
    wait_case(browser, 3)
    for key in ("d", "d", "d", "d", "d"):
        browser.press(key)
    wait_saves(browser, 9)
    browser.wait("document.body.dataset.finished === 'yes'", "the finished banner")
    assert state(browser)["progress"] == "4 / 4"
    browser.press("k")  # previous case shows the stored answers
    wait_case(browser, 2)
    assert state(browser)["pressed"] == ["left", "left", "left", "right", "tie"]

    # what was stored, mapped through each case's recorded sides
    answers = {(a.case_id, a.dimension): a.choice for a in store.answers("a")}
    assert len(answers) == 20
    expected = {
        0: clicks,
        1: ["left", "right", "tie", "tie", "right"],
        2: ["left", "left", "left", "right", "tie"],
        3: ["right"] * 5,
    }
    dims = ("relevance", "correctness", "completeness", "grounded", "overall")
    for position, choices in expected.items():
        assert [answers[(placed[position].case_id, d)] for d in dims] == choices
    assert store.comments("a")[("a", placed[1].case_id)][0] == "left cites the wrong lobe <b>!</b>"

    # reviewer b sees the same cases fresh, none of a's answers
    browser.open(f"http://127.0.0.1:{port}/r/{tokens['b']}")
    wait_case(browser, 0)
    assert state(browser)["progress"] == "0 / 4" and state(browser)["pressed"] == [None] * 5
    assert browser.js("document.getElementById('comment').value") == ""

    out = tmp_path / "summary"
    assert main(["review", "results", "--name", "live", "--root", str(root), "--out", str(out), "--rounds", "200"]) == 0
    summary = json.loads((out / "results.json").read_text())
    overall = next(d for d in summary["dimensions"] if d["dimension"] == "overall")
    winners = [placed[p].slot_of(c[4]) for p, c in expected.items()]
    assert overall["n_answers"] == 4
    assert overall["share"]["A"] == pytest.approx(winners.count("A") / 4)
    assert overall["share"]["tie"] == pytest.approx(0.25)
    assert summary["models"] == {"A": "model-alpha", "B": "model-beta"}
    assert "| Overall preference |" in (out / "results.md").read_text()
    assert (out / "results.png").stat().st_size > 1000
    assert main(["review", "export", "--name", "live", "--root", str(root), "--out", str(tmp_path / "raw.csv")]) == 0
    with (tmp_path / "raw.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 21 and {r["winner_model"] for r in rows if r["dimension"] == "overall"} <= {
        "model-alpha",
        "model-beta",
        "tie",
    }
