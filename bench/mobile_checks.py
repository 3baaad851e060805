"""The checks of bench/mobile.py: answers against the database before each load, and what the report
load left behind after it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx

from bench.run import asyncpg_dsn


def has_route(base: str, path: str, method: str) -> bool:
    r = httpx.get(base + "/m/openapi.json", timeout=30)
    return r.status_code == 200 and method.lower() in r.json().get("paths", {}).get(path, {})


async def _fetch(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def item_number(item: dict[str, Any]) -> str | None:
    """The ticket number of one list item (`number`, as dispatch calls it, or `ticket_number`)."""
    return item.get("number") or item.get("ticket_number")


def walk(
    client: httpx.Client, token: str, max_pages: int, limit: int = 20
) -> tuple[list[str], list[str], int | None]:
    """Page through a resident's list: (numbers in order, the cursors given, failing status or None)."""
    numbers: list[str] = []
    cursors: list[str] = []
    cursor = None
    for _ in range(max_pages):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = client.get("/m/v1/tickets", params=params, headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            return numbers, cursors, r.status_code
        page = r.json()
        numbers += [item_number(i) or "?" for i in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
        cursors.append(cursor)
    return numbers, cursors, None


def check_list(
    base: str, url: str, check: dict[int, str], tokens: dict[int, str], busy: list[int]
) -> tuple[dict[str, Any], list[tuple[int, str]]]:
    """Walk whole lists of the `check` accounts and compare them with the database (newest first, every
    ticket once); then the first five pages of the busy residents, whose cursors the load reuses."""
    out: dict[str, Any] = {"accounts": []}
    with httpx.Client(base_url=base, timeout=30) as client:
        first_answer = client.get(
            "/m/v1/tickets",
            params={"limit": 20},
            headers={"Authorization": f"Bearer {next(iter(check.values()))}"},
        )
        out["first_answer"] = (
            first_answer.json() if first_answer.status_code == 200 else first_answer.text[:1000]
        )
        if isinstance(out["first_answer"], dict):
            out["first_answer"] = {**out["first_answer"], "items": out["first_answer"].get("items", [])[:2]}
        for aid, token in check.items():
            got, _cursors, failed = walk(client, token, 100)
            rows = asyncio.run(
                _fetch(
                    url, "SELECT ticket_number FROM mobile.report WHERE account_id = $1 ORDER BY id DESC", aid
                )
            )
            want = [r["ticket_number"] for r in rows]
            out["accounts"].append(
                {
                    "account_id": aid,
                    "tickets": len(want),
                    "pages": (len(got) + 19) // 20,
                    "failed_status": failed,
                    "first_page_matches": got[:20] == want[:20],
                    "whole_list_matches": got == want,
                    "repeated": len(got) - len(set(got)),
                }
            )
        deep: list[tuple[int, str]] = []
        for aid in busy:
            _got, cursors, failed = walk(client, tokens[aid], 5)
            if failed is None:
                deep += [(aid, c) for c in cursors]
    accounts = out["accounts"]
    out["summary"] = {
        "accounts_checked": len(accounts),
        "tickets_walked": sum(a["tickets"] for a in accounts),
        "largest_list": max(a["tickets"] for a in accounts),
        "all_match": all(a["whole_list_matches"] and a["failed_status"] is None for a in accounts),
        "deep_cursors": len(deep),
    }
    out["ok"] = out["summary"]["all_match"] and bool(deep)
    return out, deep


def _gps(data: bytes) -> dict[Any, Any] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return dict(img.getexif().get_ifd(0x8825)) or None
    except Exception:  # not an image we can read: reported as unknown
        return None


def check_reports(
    base: str, url: str, reporters: list[dict[str, Any]], bodies: list[dict[str, Any]], media_dir: str
) -> dict[str, Any]:
    """Three reports sent one by one: 201, the mirror row and the dispatch ticket are there, and the photo's
    public copy has lost its GPS while the private original kept it."""
    out: dict[str, Any] = {"answers": [], "created": 0}
    with httpx.Client(base_url=base, timeout=60) as client:
        for r, b in zip(reporters, bodies, strict=False):
            resp = client.post(
                "/m/v1/reports",
                content=Path(b["file"]).read_bytes(),
                headers={
                    "Authorization": f"Bearer {r['token']}",
                    "Content-Type": b["content_type"],
                    "X-Forwarded-For": r["ip"],
                },
            )
            body = resp.json() if resp.headers.get("content-type", "").endswith("json") else resp.text[:500]
            out["answers"].append({"status": resp.status_code, "body": body})
            out["created"] += resp.status_code == 201
    number = next(
        (
            a["body"].get("number")
            for a in out["answers"]
            if a["status"] == 201 and isinstance(a["body"], dict)
        ),
        None,
    )
    if number:
        row = asyncio.run(
            _fetch(
                url,
                "SELECT r.ticket_id, t.id AS dispatch_id, t.channel, t.reporter_sub, r.photo_count "
                "FROM mobile.report r LEFT JOIN dispatch.ticket t ON t.id = r.ticket_id WHERE r.ticket_number = $1",
                number,
            )
        )
        out["first"] = {"number": number, **(dict(row[0]) if row else {"mirror_row": None})}
    photos = asyncio.run(
        _fetch(
            url,
            "SELECT key, original_key, bytes, width, height FROM mobile.photo WHERE account_id = $1 "
            "ORDER BY created_at DESC LIMIT 1",
            reporters[0]["account_id"],
        )
    )
    if photos:
        p = photos[0]
        public, original = Path(media_dir) / p["key"], Path(media_dir) / p["original_key"]
        out["photo"] = {
            "stored_bytes": p["bytes"],
            "size": f"{p['width']}×{p['height']}",
            "public_copy_found": public.is_file(),
            "public_copy_gps": _gps(public.read_bytes()) if public.is_file() else "file not found",
            "original_has_gps": bool(_gps(original.read_bytes())) if original.is_file() else "file not found",
        }
        out["photo"]["gps_stripped"] = public.is_file() and out["photo"]["public_copy_gps"] is None
    out["ok"] = out["created"] == len(out["answers"])
    return out


async def count_after_reports(
    url: str, account_ids: list[int], answered: dict[str, int], runs: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Every 201 (check requests, warm-up and measured ones and answers read after the window) must have
    left exactly one mobile.report row and one dispatch ticket; dispatch has no other tickets here."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        q = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM mobile.report WHERE account_id = ANY($1)) AS report_rows, "
            "(SELECT count(DISTINCT ticket_id) FROM mobile.report WHERE account_id = ANY($1)) AS distinct_tickets, "
            "(SELECT count(*) FROM dispatch.ticket) AS dispatch_tickets, "
            "(SELECT count(*) FROM mobile.report r JOIN dispatch.ticket t ON t.id = r.ticket_id "
            " AND t.number = r.ticket_number WHERE r.account_id = ANY($1)) AS joined, "
            "(SELECT count(*) FROM dispatch.ticket t WHERE NOT EXISTS (SELECT 1 FROM mobile.report r "
            " WHERE r.ticket_id = t.id)) AS tickets_without_row, "
            "(SELECT count(*) FROM mobile.photo WHERE account_id = ANY($1)) AS photos",
            account_ids,
        )
    finally:
        await conn.close()
    created = sum(answered.values())
    other = {c: {k: v for k, v in r.get("statuses_all", {}).items() if k != "201"} for c, r in runs.items()}
    errors = {c: r.get("error_kinds", {}) for c, r in runs.items() if r.get("errors")}
    out = {**dict(q), "answered_201": created, "answered_201_by_run": answered, "other_answers": other}
    if errors:
        out["errors_measured"] = errors
    out["ok"] = (
        q["report_rows"] == created
        and q["distinct_tickets"] == created
        and q["dispatch_tickets"] == created
        and q["joined"] == created
        and q["tickets_without_row"] == 0
    )
    return out


async def explain_list(url: str, account_id: int) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of a first and a deep page of the busiest resident's list, the way the index serves
    it (account_id, id DESC): what to look at when the p99 misses."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    out = {}
    try:
        ids = await conn.fetch(
            "SELECT id FROM mobile.report WHERE account_id = $1 ORDER BY id DESC", account_id
        )
        mid = ids[len(ids) // 2]["id"]
        for label, sql in (
            (
                "first page",
                f"SELECT * FROM mobile.report WHERE account_id = {int(account_id)} ORDER BY id DESC LIMIT 21",  # noqa: S608 — integers
            ),
            (
                f"a deep page (after {len(ids) // 2} of {len(ids)})",
                f"SELECT * FROM mobile.report WHERE account_id = {int(account_id)} AND id < {int(mid)} "  # noqa: S608
                "ORDER BY id DESC LIMIT 21",
            ),
        ):
            await conn.fetch(sql)  # warm
            out[label] = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
    finally:
        await conn.close()
    return out
