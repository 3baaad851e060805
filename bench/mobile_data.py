"""Data for bench/mobile.py: a district's mini-program accounts with their sessions and a million
mirrored tickets (COPY), resident tokens, and real ~1 MB JPEG photos with EXIF GPS in multipart bodies.

The "my tickets" accounts are bound to residents that are not in the registry (the list is served from
mobile's own `report` table and never asks it); the reporting accounts are bound to real residents the
benchmark imports into the registry, since filing a report reads the resident there.
"""

from __future__ import annotations

import io
import random
import secrets
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.run import Layout, asyncpg_dsn

CST = ZoneInfo("Asia/Shanghai")
# Mirrored tickets that have no dispatch ticket behind them: ids far above what the report load files.
MIRROR_TICKET_ID0 = 50_000_000
FAKE_RESIDENT_ID0 = 50_000_000
NO_REPORTS_SHARE = 0.15  # logged in, bound, never reported
SKEW_SIGMA = 1.4  # log-normal spread of tickets per account: median ≈ 4, 1% ≥ 100, a few ≈ 1,000
MAX_PER_ACCOUNT = 1_000
UNITS = (
    "新北区城市管理局",
    "新北区住房和城乡建设局",
    "新北区生态环境局",
    "新北区市场监督管理局",
    "新北区交通运输局",
    "新北区水利局",
    "三井街道办事处",
    "河海街道办事处",
    "常州供电公司新北分公司",
    "常州通用自来水公司",
    "新北区公安分局交警大队",
    "新北区卫生健康局",
)
OPEN = ("registered", "dispatched", "accepted", "handling")


def openid(rng: random.Random) -> str:
    """A WeChat-looking openid: 28 characters starting with o."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))


def ticket_counts(rng: random.Random, accounts: int, reports: int) -> list[int]:
    """Tickets per account summing to `reports`: most residents have a few, some have hundreds."""
    weights = [
        0.0 if rng.random() < NO_REPORTS_SHARE else rng.lognormvariate(0, SKEW_SIGMA) for _ in range(accounts)
    ]
    total = sum(weights)
    counts = [min(MAX_PER_ACCOUNT, max(1, round(w / total * reports))) if w else 0 for w in weights]
    active = [i for i, c in enumerate(counts) if c]
    diff = reports - sum(counts)
    while diff:  # spread the rounding error one ticket at a time over random active accounts
        i = rng.choice(active)
        step = 1 if diff > 0 else -1
        if 1 <= counts[i] + step <= MAX_PER_ACCOUNT:
            counts[i] += step
            diff -= step
    return counts


def _status(rng: random.Random, age_days: float) -> tuple[str, str | None, int]:
    """(status, satisfaction, events so far) of a ticket this old."""
    if age_days < 2:
        return rng.choice(OPEN), None, rng.randrange(1, 4)
    if age_days < 15:
        s = rng.choices(
            ("handling", "handled", "verified", "closed", "feedback", "cancelled"), (20, 15, 10, 15, 35, 5)
        )[0]
    else:
        s = rng.choices(("feedback", "closed", "cancelled", "linked"), (62, 28, 5, 5))[0]
    sat = None
    if s == "feedback":
        sat = rng.choices(("satisfied", "basically_satisfied", "dissatisfied"), (85, 10, 5))[0]
    return s, sat, {"cancelled": 2, "linked": 2}.get(s, rng.randrange(5, 9))


def generate(
    layout: Layout, rng: random.Random, n_accounts: int, n_reports: int, summaries: list[str], now: datetime
) -> dict[str, Any]:
    """Accounts 1..n (bound), one live session each (10% a second, logged out last week), and the
    reports, ids in time order (the list's sort key), numbered like dispatch (SF + day + sequence)."""
    counts = ticket_counts(rng, n_accounts, n_reports)
    accounts, sessions, live = [], [], {}
    micro = [layout.micro_code(g, m) for g in range(layout.n_grids) for m in range(layout.micro)]
    seen_openids: set[str] = set()
    for a in range(1, n_accounts + 1):
        created = now - timedelta(days=rng.uniform(20, 900))
        oid = openid(rng)
        while oid in seen_openids:
            oid = openid(rng)
        seen_openids.add(oid)
        accounts.append(
            (
                a,
                oid,
                FAKE_RESIDENT_ID0 + a,
                FAKE_RESIDENT_ID0 + a // 2,  # two accounts per household
                rng.choice(micro),
                created + timedelta(minutes=rng.uniform(1, 600)),
                created,
                now - timedelta(hours=rng.uniform(0, 24 * 30)),
            )
        )
        sid = uuid.UUID(int=rng.getrandbits(128), version=4)
        live[a] = sid
        sessions.append(
            (sid, a, now - timedelta(days=rng.uniform(0, 25)), now + timedelta(days=30), None, None)
        )
        if rng.random() < 0.10:
            old = uuid.UUID(int=rng.getrandbits(128), version=4)
            sessions.append(
                (
                    old,
                    a,
                    now - timedelta(days=20),
                    now + timedelta(days=10),
                    now - timedelta(days=7),
                    "logout",
                )
            )
    when: list[tuple[datetime, int]] = []
    for a, c in enumerate(counts, start=1):
        since = accounts[a - 1][6]
        span = (now - since).total_seconds()
        when += [(since + timedelta(seconds=rng.uniform(0, span)), a) for _ in range(c)]
    when.sort()
    reports = []
    per_day: dict[str, int] = {}
    for rid, (at, a) in enumerate(when, start=1):
        day = at.astimezone(CST).strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        age = (now - at).total_seconds() / 86400
        status, sat, events = _status(rng, age)
        photos = rng.choice((0, 1, 1, 1, 2, 3))
        reports.append(
            (
                rid,
                a,
                MIRROR_TICKET_ID0 + rid,
                f"SF{day}{per_day[day]:06d}",
                rng.choice(summaries),
                photos,
                uuid.UUID(int=rng.getrandbits(128), version=4) if photos else None,
                status,
                # a duplicate follows an earlier ticket (of anyone: it reported the same spot first)
                reports[rng.randrange(len(reports))][3] if status == "linked" and reports else None,
                None if status in ("registered", "cancelled") else rng.choice(UNITS),
                events,
                sat,
                at,
                min(now, at + timedelta(days=min(age, rng.uniform(0.1, 12)))),
            )
        )
    return {
        "accounts": accounts,
        "sessions": sessions,
        "reports": reports,
        "live": live,
        "counts": counts,
        "per_day": per_day,
    }


ACCOUNT_COLS = [
    "id",
    "openid",
    "resident_id",
    "household_id",
    "area_code",
    "bound_at",
    "created_at",
    "last_login_at",
]
SESSION_COLS = ["id", "account_id", "created_at", "expires_at", "revoked_at", "revoke_reason"]
REPORT_COLS = [
    "id",
    "account_id",
    "ticket_id",
    "ticket_number",
    "summary",
    "photo_count",
    "first_photo_id",
    "status",
    "merged_into",
    "unit_name",
    "event_seq",
    "satisfaction",
    "created_at",
    "updated_at",
]


async def load(url: str, rows: dict[str, Any]) -> dict[str, Any]:
    """COPY accounts, sessions and reports; move the identity sequences past them and dispatch's day
    counters past the mirrored numbers (tickets filed today continue the day's sequence); VACUUM ANALYZE."""
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with conn.transaction():
            for table, cols in (
                ("account", ACCOUNT_COLS),
                ("session", SESSION_COLS),
                ("report", REPORT_COLS),
            ):
                await conn.copy_records_to_table(
                    table, schema_name="mobile", columns=cols, records=rows[table + "s"]
                )
            for table in ("account", "report"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('mobile.{table}', 'id'), "  # noqa: S608 — constants
                    f"(SELECT max(id) FROM mobile.{table}))"
                )
            await conn.executemany(
                "INSERT INTO dispatch.ticket_counter (day, last) VALUES ($1, $2)",
                list(rows["per_day"].items()),
            )
        copy_s = time.perf_counter() - t0
        for table in ("account", "session", "report"):
            await conn.execute(f"VACUUM (ANALYZE) mobile.{table}")
        sizes = await conn.fetchrow(
            "SELECT pg_size_pretty(pg_total_relation_size('mobile.report')) AS report, "
            "pg_size_pretty(pg_relation_size('mobile.ix_report_account')) AS report_index"
        )
    finally:
        await conn.close()
    return {
        "copy_s": round(copy_s, 2),
        "vacuum_analyze_s": round(time.perf_counter() - t0 - copy_s, 2),
        "report_table_size": sizes["report"],
        "report_index_size": sizes["report_index"],
    }


def skew_summary(counts: list[int]) -> dict[str, Any]:
    c = sorted(counts)
    n = len(c)
    return {
        "accounts": n,
        "without_tickets": sum(1 for x in c if x == 0),
        "percentiles": {f"p{q}": c[min(n - 1, int(n * q / 100))] for q in (25, 50, 75, 90, 99)},
        "p99.9": c[min(n - 1, int(n * 0.999))],
        "max": c[-1],
        "at_least_100": sum(1 for x in c if x >= 100),
        "at_least_300": sum(1 for x in c if x >= 300),
    }


# ---- residents who report ---------------------------------------------------------------------------


async def bind_reporters(
    url: str, n: int, rng: random.Random, first_id: int, now: datetime
) -> list[dict[str, Any]]:
    """`n` accounts (ids from `first_id`) bound to residents the registry really has, each with a live
    session; binding is written straight into mobile.account as POST /m/v1/me/binding would leave it."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        people = await conn.fetch(
            "SELECT id, household_id, area_code FROM registry.resident ORDER BY random() LIMIT $1", n
        )
        if len(people) < n:
            raise RuntimeError(f"the registry holds {len(people)} residents, {n} needed")
        out = []
        async with conn.transaction():
            for i, p in enumerate(people):
                aid, sid = first_id + i, uuid.uuid4()
                await conn.execute(
                    "INSERT INTO mobile.account (id, openid, resident_id, household_id, area_code, bound_at) "
                    "OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)",
                    aid,
                    openid(rng),
                    p["id"],
                    p["household_id"],
                    p["area_code"],
                    now - timedelta(days=1),
                )
                await conn.execute(
                    "INSERT INTO mobile.session (id, account_id, expires_at) VALUES ($1, $2, $3)",
                    sid,
                    aid,
                    now + timedelta(days=30),
                )
                out.append({"account_id": aid, "session_id": sid, **dict(p)})
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('mobile.account', 'id'), (SELECT max(id) FROM mobile.account))"
            )
    finally:
        await conn.close()
    return out


# ---- photos and multipart bodies --------------------------------------------------------------------


def _dms(v: float) -> tuple[float, float, float]:
    d = int(v)
    m = int((v - d) * 60)
    return float(d), float(m), round(((v - d) * 60 - m) * 60, 4)


def photo_jpeg(seed: int, lat: float, lng: float, target: int = 1_000_000) -> bytes:
    """A real phone-sized JPEG (2000×1500) of about `target` bytes, with the EXIF a phone writes: make,
    model, time and GPS (which the service must strip from the copy others see)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    w, h = 2000, 1500
    base = Image.linear_gradient("L").resize((w, h))
    chans = [
        ImageChops.blend(
            base.rotate(90 * c + rng.randrange(0, 30)).resize((w, h)),
            Image.effect_noise((w, h), 40 + 10 * c),
            0.5,
        )
        for c in range(3)
    ]
    img = Image.merge("RGB", chans).filter(ImageFilter.GaussianBlur(0.6))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x, y = rng.randrange(w), rng.randrange(h)
        fill = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + rng.randrange(40, 400), y + rng.randrange(40, 300)), fill=fill)
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"  # Make
    exif[0x0110] = "Redmi Note 12"  # Model
    exif[0x0132] = datetime.now(CST).strftime("%Y:%m:%d %H:%M:%S")
    exif[0x8825] = {1: "N", 2: _dms(lat), 3: "E", 4: _dms(lng), 5: b"\x00", 6: 8.0}  # GPS IFD
    lo, hi, best = 50, 98, b""
    while lo <= hi:  # the highest quality that stays within 5% of the target
        q = (lo + hi) // 2
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q, exif=exif)
        if buf.tell() <= target * 1.05:
            best, lo = buf.getvalue(), q + 1
        else:
            hi = q - 1
    return best


def multipart(fields: dict[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[str, bytes]:
    """(Content-Type with boundary, body) of a multipart/form-data request, as a browser builds it."""
    boundary = "----WebKitFormBoundary" + secrets.token_hex(8)
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode("utf-8") + b"\r\n")
    for name, filename, ctype, data in files:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


def point_in(layout: Layout, rng: random.Random, grid: int | None = None) -> tuple[float, float]:
    """A point well inside a grid (a random one if none is given): (lat, lng)."""
    g = rng.randrange(layout.n_grids) if grid is None else grid
    x0, y0, x1, y1 = layout.grid_rect(g)
    mx, my = (x1 - x0) * 0.05, (y1 - y0) * 0.05
    return round(rng.uniform(y0 + my, y1 - my), 6), round(rng.uniform(x0 + mx, x1 - mx), 6)


def grid_of_micro(layout: Layout) -> dict[str, int]:
    return {layout.micro_code(g, m): g for g in range(layout.n_grids) for m in range(layout.micro)}
