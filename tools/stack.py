"""The whole stack on real processes, for tests and scripts: one database, every service, the fakes.

    from tools import stack
    with stack.start(database_url) as s:          # migrated, demo data loaded, everything listening
        s.urls["dispatch"], s.accounts, s.receiver  # base URLs, demo logins, the fake 12345 platform

`start()` migrates the database (give it an empty one, e.g. from tools/db.py `fresh_sibling`: every stack
makes fresh secrets, and data sealed under another stack's keys cannot be read), loads the registry's
demo district, installs the 12345 hotline key and loads the wishes demo (as `make run` does), then starts
registry, dispatch, wishes, mobile and the WeChat fake as separate uvicorn processes on free loopback
ports, overlapping what does not depend on each other. The fake 12345 platform's callback receiver
(tools/hotline_platform.py, `s.receiver`) listens on a free port in a thread of this process; dispatch's
DISPATCH_HOTLINE_CALLBACK_URL points at it and DISPATCH_MOBILE_URL at mobile; the outbox jobs poll every
0.2 s (FAST; `env_overrides` wins over everything). `stop()` (or leaving the `with`) ends every process
group it started, also after a failed start. `kill_service(name)` / `start_service(name)` kill -9 and
restart one process (for chaos runs). Logs go to `log_dir` (a new temporary directory unless given);
`log_tail(name)` reads one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tools.db import ROOT, upgrade, wait_ready
from tools.hotline_platform import CallbackReceiver

HOST = "127.0.0.1"
SERVICES = ("registry", "dispatch", "wishes", "mobile")
WECHAT = "wechat"
WECHAT_APP_ID = "wx5f0d7e3c2b1a0987"
# Quick background jobs, so that a compressed day drains in seconds.
FAST = {
    "DISPATCH_HOTLINE_CALLBACK_INTERVAL_S": "0.2",
    "DISPATCH_HOTLINE_CALLBACK_BACKOFF_S": "0.5",
    "DISPATCH_MOBILE_PUSH_INTERVAL_S": "0.2",
    "DISPATCH_MOBILE_PUSH_BACKOFF_S": "0.5",
}


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def make_secrets() -> dict[str, str]:
    return {
        "REGISTRY_DATA_KEY": _key(),
        "REGISTRY_LOOKUP_KEY": _key(),
        "SVC_DISPATCH_SECRET": secrets.token_urlsafe(24),
        "SVC_WISHES_SECRET": secrets.token_urlsafe(24),
        "SVC_MOBILE_SECRET": secrets.token_urlsafe(24),
        "HOTLINE_APP_KEY": "hl-" + secrets.token_hex(6),
        "HOTLINE_APP_SECRET": secrets.token_urlsafe(32),
        "DISPATCH_SECRETS_KEY": _key(),
        "MOBILE_TOKEN_KEY": _key(),
        "WECHAT_APP_SECRET": secrets.token_hex(16),
        "HOTLINE_CALLBACK_KEY": "district-" + secrets.token_hex(4),
        "HOTLINE_CALLBACK_SECRET": secrets.token_urlsafe(32),
    }


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class _ReceiverThread:
    """A CallbackReceiver served by uvicorn on its own event loop in a daemon thread."""

    def __init__(self, receiver: CallbackReceiver) -> None:
        self.receiver = receiver
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hotline-receiver", daemon=True)

    def start(self) -> str:
        self._thread.start()
        if not self._ready.wait(15) or self._error:
            raise RuntimeError(f"the fake 12345 callback receiver did not start: {self._error!r}")
        return self.url

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                async with self.receiver.serve(HOST, 0) as url:
                    self.url = url
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:  # reported to start()
                self._error = exc
                self._ready.set()

        self._loop.run_until_complete(main())
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)


class Stack:
    def __init__(
        self, database_url: str, env_overrides: dict[str, str] | None = None, log_dir: Path | None = None
    ) -> None:
        self.database_url = database_url
        self.secrets = make_secrets()
        if log_dir is None:
            log_dir = Path(tempfile.mkdtemp(prefix="gridgov-stack-"))
        else:  # a fixed place: the last run's logs are replaced
            shutil.rmtree(log_dir, ignore_errors=True)
            log_dir.mkdir(parents=True)
        self.log_dir = log_dir
        self.ports = {name: free_port() for name in (*SERVICES, WECHAT)}
        self.urls = {name: f"http://{HOST}:{port}" for name, port in self.ports.items()}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.receiver = CallbackReceiver(
            self.secrets["HOTLINE_CALLBACK_KEY"], self.secrets["HOTLINE_CALLBACK_SECRET"]
        )
        self._receiver_thread = _ReceiverThread(self.receiver)
        self.callback_url = ""
        self.accounts: dict[str, Any] = {}
        self.overrides = dict(env_overrides or {})
        self.timings: dict[str, float] = {}

    # ---- set-up ---------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        sec, urls = self.secrets, self.urls
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("REGISTRY_", "DISPATCH_", "WISHES_", "MOBILE_"))
        }
        env.update(sec)
        env["DATABASE_URL"] = self.database_url
        for name in SERVICES:
            up = name.upper()
            env[f"{up}_JWKS_URL"] = f"{urls['registry']}/.well-known/jwks.json"
            env[f"{up}_REGISTRY_URL"] = urls["registry"]
            env[f"{up}_TOKEN_URL"] = f"{urls['registry']}/api/v1/auth/token"
        for name in ("dispatch", "wishes", "mobile"):
            env[f"{name.upper()}_CLIENT_SECRET"] = sec[f"SVC_{name.upper()}_SECRET"]
        env["DISPATCH_HOTLINE_CALLBACK_URL"] = self.callback_url
        env["DISPATCH_HOTLINE_CALLBACK_APP_KEY"] = sec["HOTLINE_CALLBACK_KEY"]
        env["DISPATCH_HOTLINE_CALLBACK_SECRET"] = sec["HOTLINE_CALLBACK_SECRET"]
        env["DISPATCH_MOBILE_URL"] = urls["mobile"]
        env["MOBILE_WECHAT_BASE_URL"] = urls[WECHAT]
        env["MOBILE_WECHAT_APP_ID"] = env["WECHAT_FAKE_APP_ID"] = WECHAT_APP_ID
        env["MOBILE_WECHAT_APP_SECRET"] = env["WECHAT_FAKE_APP_SECRET"] = sec["WECHAT_APP_SECRET"]
        env["MOBILE_PUBLIC_URL"] = urls["mobile"]
        env["MOBILE_DISPATCH_URL"] = urls["dispatch"]
        env["MOBILE_WISHES_URL"] = urls["wishes"]
        env["PYTHONPATH"] = str(ROOT)
        env.update(FAST)
        env.update(self.overrides)
        return env

    def _launch(self, what: str, *args: str) -> tuple[str, float, subprocess.Popen[bytes]]:
        with open(self.log_dir / f"setup-{what}.log", "wb") as log:
            p = subprocess.Popen(
                [sys.executable, "-m", *args],
                env=self.env(),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[f"setup-{what}"] = p  # stopped with the rest if start-up fails
        return what, time.monotonic(), p

    def _finish(self, job: tuple[str, float, subprocess.Popen[bytes]], timeout: float = 180.0) -> None:
        what, t0, p = job
        code = p.wait(timeout)
        self.timings[what] = round(time.monotonic() - t0, 2)
        if code:
            raise RuntimeError(f"{what} failed ({code}):\n{self.log_tail('setup-' + what)}")

    def start(self) -> Stack:
        """Migrations, demo data and every process, overlapped where nothing depends on the other (a
        database that already has the demo data keeps it)."""
        try:
            t0 = time.monotonic()
            self.callback_url = self._receiver_thread.start()
            asyncio.run(wait_ready(self.database_url))
            upgrade(self.database_url)
            self.timings["migrate"] = round(time.monotonic() - t0, 2)
            self._spawn(WECHAT)
            sec = self.secrets
            accounts = self.log_dir / "demo-accounts.json"
            demo = self._launch(
                "registry-demo",
                "services.registry.demo",
                *("--accounts", str(accounts)),
                *("--service", f"dispatch={sec['SVC_DISPATCH_SECRET']}"),
                *("--service", f"wishes={sec['SVC_WISHES_SECRET']}"),
                *("--service", f"mobile={sec['SVC_MOBILE_SECRET']}"),
                *("--hotline-key", f"{sec['HOTLINE_APP_KEY']}:{sec['HOTLINE_APP_SECRET']}"),
            )
            key = self._launch(
                "hotline-key",
                *("services.dispatch.cli", "hotline-key", "install"),
                *("--app-key", sec["HOTLINE_APP_KEY"], "--secret-env", "HOTLINE_APP_SECRET"),
            )
            self._finish(demo)
            self._finish(key)
            self.accounts = json.loads(accounts.read_text())
            # the wishes demo reads residents through an in-process registry: the servers start meanwhile
            wishes_demo = self._launch("wishes-demo", "services.wishes.demo", "--registry-in-process")
            self._spawn("registry")  # the others fetch its JWKS at start-up
            self.wait_ready("registry")
            for name in ("dispatch", "mobile"):
                self._spawn(name)
            self._finish(wishes_demo)
            self._spawn("wishes")  # after its demo: its jobs must not run while history is replayed
            for name in (WECHAT, "dispatch", "mobile", "wishes"):
                self.wait_ready(name)
            self.timings["ready"] = round(time.monotonic() - t0, 2)
        except BaseException:
            self.stop()
            raise
        return self

    # ---- processes ------------------------------------------------------------------------------

    def _spawn(self, name: str) -> None:
        app = "tools.wechat_fake:create_app" if name == WECHAT else f"services.{name}.app:create_app"
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--host",
            HOST,
            "--port",
            str(self.ports[name]),
        ]
        cmd += [
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--timeout-graceful-shutdown",
            "3",
        ]
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                cmd, env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        url = self.urls[name] + "/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            p = self.procs[name]
            if p.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {p.returncode} at start-up:\n{self.log_tail(name)}"
                )
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not become ready in {timeout:.0f} s:\n{self.log_tail(name)}")

    def start_service(self, name: str) -> None:
        """Start (or restart, after `kill_service`) one process and wait until it is ready."""
        self._spawn(name)
        self.wait_ready(name)

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            p.wait(10)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 8
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(5)
        self._receiver_thread.stop()

    def log_tail(self, name: str, n: int = 40) -> str:
        try:
            return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def logins(self) -> dict[str, str]:
        """username → password of the demo staff accounts."""
        return {a["username"]: a["password"] for a in self.accounts["accounts"]}

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    database_url: str, env_overrides: dict[str, str] | None = None, *, log_dir: Path | None = None
) -> Stack:
    """A running stack on `database_url` (use it as a context manager, or call `stop()`). Logs go to
    `log_dir` (emptied first), or else to a new temporary directory."""
    return Stack(database_url, env_overrides, log_dir).start()


if __name__ == "__main__":  # smoke: python -m tools.stack <database_url>  (uses <name>_stack next to it)
    from tools.db import fresh_sibling

    t = time.monotonic()
    with start(fresh_sibling(sys.argv[1], "stack")) as s:
        print(json.dumps({"urls": s.urls, "timings": s.timings, "total_s": round(time.monotonic() - t, 2)}))
