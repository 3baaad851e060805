"""The stack `make chaos` runs its faults against (tools/chaos.py): its own embedded PostgreSQL cluster
(.data/pg-chaos, database gridgov_chaos) with a stop and start that bypass pgserver, set up as `make run`
does, and each service as a uvicorn process on a free loopback port that can be killed, frozen and
started again.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tools.db import DATA, ROOT, embedded_server, ensure_database, upgrade, wait_ready
from tools.devstack import WECHAT_APP_ID, load_secrets, service_env
from tools.hotline_platform import CST

CLUSTER, DATABASE = "pg-chaos", "gridgov_chaos"
WORK = DATA / "chaos"
ACCOUNTS = WORK / "accounts.json"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    name: str
    app: str
    port: int
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
        cmd += ["--timeout-graceful-shutdown", "5"]
        with open(WORK / "logs" / f"{self.name}.log", "ab") as log:
            self.popen = subprocess.Popen(
                cmd, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    async def ready(self, limit_s: float = 90.0) -> float:
        t0 = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as http:
            while time.monotonic() - t0 < limit_s:
                if self.popen is not None and self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.popen.returncode}; see {WORK}/logs")
                try:
                    if (await http.get(self.base + "/readyz")).status_code == 200:
                        return time.monotonic() - t0
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {limit_s:.0f} s")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=5)


class Cluster:
    """The embedded cluster, with a stop/start that bypasses pgserver (which only starts it once)."""

    def __init__(self) -> None:
        self.server = embedded_server(CLUSTER)
        self.pgdata = Path(self.server.pgdata)
        # postmaster.pid, line 5: the unix socket directory the clients use
        self.socket_dir = (self.pgdata / "postmaster.pid").read_text().splitlines()[4]

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=timeout)

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        from pgserver.utils import PostmasterInfo

        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")
        # pgserver's handle must see the new postmaster, or it would not stop it at exit
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.pgdata)


def set_up(cluster: Cluster) -> tuple[str, dict[str, str], dict[str, Any]]:
    """As `make run`'s set-up (tools/devstack.py), into this cluster and an accounts file of our own."""
    sec = load_secrets()
    url = ensure_database(cluster.server, DATABASE)
    asyncio.run(wait_ready(url))
    upgrade(url)
    env = service_env(url, sec)
    py = [sys.executable, "-m"]
    services = [f"--service={n}={sec[f'SVC_{n.upper()}_SECRET']}" for n in ("dispatch", "wishes", "mobile")]
    hotline = f"--hotline-key={sec['HOTLINE_APP_KEY']}:{sec['HOTLINE_APP_SECRET']}"
    run = {"env": env, "check": True, "cwd": ROOT, "stdout": subprocess.DEVNULL}
    subprocess.run([*py, "services.registry.demo", "--accounts", str(ACCOUNTS), *services, hotline], **run)
    key = ["--app-key", sec["HOTLINE_APP_KEY"], "--secret-env", "HOTLINE_APP_SECRET"]
    subprocess.run([*py, "services.dispatch.cli", "hotline-key", "install", *key], **run)
    subprocess.run([*py, "services.wishes.demo", "--registry-in-process"], **run)
    return url, env, sec


def stack_env(env: dict[str, str], ports: dict[str, int], callback_url: str) -> dict[str, str]:
    env = dict(env)
    url = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    for name in ("registry", "dispatch", "wishes", "mobile"):
        env[f"{name.upper()}_JWKS_URL"] = url["registry"] + "/.well-known/jwks.json"
        env[f"{name.upper()}_REGISTRY_URL"] = url["registry"]
        env[f"{name.upper()}_TOKEN_URL"] = url["registry"] + "/api/v1/auth/token"
    today = datetime.now(CST).date()
    env.update(
        {
            "DISPATCH_HOTLINE_CALLBACK_URL": callback_url,
            "DISPATCH_MOBILE_URL": url["mobile"],
            "MOBILE_DISPATCH_URL": url["dispatch"],
            "MOBILE_WISHES_URL": url["wishes"],
            "MOBILE_PUBLIC_URL": url["mobile"],
            "MOBILE_WECHAT_BASE_URL": url["wechat"],
            "MOBILE_WECHAT_APP_ID": WECHAT_APP_ID,
            "WECHAT_FAKE_APP_ID": WECHAT_APP_ID,
            "MOBILE_REPORTS_PER_RESIDENT_DAY": "100000",
            "MOBILE_REPORTS_PER_IP_DAY": "100000",
            "MOBILE_MEDIA_DIR": str(WORK / "media" / "mobile"),
            "WISHES_MEDIA_DIR": str(WORK / "media" / "wishes"),
            # the clock runs all day, today and tomorrow are working days, and limits are short, so the
            # supervision job issues cards while the faults happen
            "DISPATCH_WORKING_HOURS": "00:00-23:59:59",
            "DISPATCH_CALENDAR_OVERRIDES": json.dumps({str(today + timedelta(days=d)): True for d in (0, 1)}),
            "DISPATCH_RESPONSE_RULE_HOURS": "0.02",
            "DISPATCH_JOB_INTERVAL_S": "2",
            "DISPATCH_PLACE_RETRY_S": "3",
            "DISPATCH_HOTLINE_CALLBACK_BACKOFF_S": "1",
            "DISPATCH_HOTLINE_CALLBACK_BACKOFF_MAX_S": "5",
            "DISPATCH_MOBILE_PUSH_BACKOFF_S": "1",
            "DISPATCH_MOBILE_PUSH_BACKOFF_MAX_S": "5",
        }
    )
    env["WECHAT_FAKE_APP_SECRET"] = env["MOBILE_WECHAT_APP_SECRET"]
    return env
