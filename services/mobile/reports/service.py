"""随手拍: filing a resident's report as a dispatch ticket, and the resident's own list of tickets.

**Filing** (`create_report`), in this order, all in the request's transaction:

1. the account must be bound to a resident (403 `not-bound`); a repeated `Idempotency-Key` answers with
   the report it made the first time (before the body is even read);
2. the form is checked (text, location pair, flags) and the point against the district outline (422);
3. the daily limits count one report (per resident, per client IP: 429 with Retry-After);
4. every photo is read with a byte limit (413) and decoded by content (415), then written (original
   privately, public copy without EXIF);
5. dispatch files the ticket (`POST /api/v1/tickets` with an Idempotency-Key, so a retry is safe; 503
   naming dispatch when it is down);
6. the photo rows and the mirror row are inserted.

Any failure after step 4 removes the files it wrote, and the rollback takes the limit counts back, so a
refused report costs the resident nothing and leaves nothing behind.

**My tickets** (`ticket_page`) is one indexed statement on `mobile.report`, run on the bare driver and
serialised with orjson: it is the hottest read of the mini-program.
"""

from __future__ import annotations

import ipaddress
import uuid
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile import limits
from services.mobile.clients.dispatch import DispatchClient, TicketRef, public_unit_name
from services.mobile.errors import NotBound
from services.mobile.models import Account, Photo, Report
from services.mobile.paging import BadCursor, decode_cursor, encode_cursor
from services.mobile.reports import photos as photo_store
from services.mobile.reports.photos import CleanPhoto, TooManyPhotos
from services.mobile.reports.schemas import ReportForm
from services.mobile.reports.status import LABELS, SQL_FILTER, resident_status
from services.mobile.reports.storage import LocalStorage, S3Storage
from services.mobile.settings import MobileSettings

DAY = 86400
SUMMARY_CHARS = 60


def resident_limit(settings: MobileSettings) -> limits.Limit:
    return limits.Limit(
        "report:resident", settings.reports_per_resident_day, DAY, "reports a day per resident"
    )


def ip_limit(settings: MobileSettings) -> limits.Limit:
    return limits.Limit(
        "report:ip", settings.reports_per_ip_day, DAY, "reports a day from one network address"
    )


# ---- who is asking -----------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(addr: str, nets: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr.strip())
    except ValueError:
        return False
    return any(ip in n for n in nets)


def client_ip(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str:
    """The client's address. `X-Forwarded-For` is read only when the peer is a trusted proxy (settings:
    `trusted_proxies`); then the client is the right-most address that is not itself a trusted proxy
    (the left part of the header is whatever the client chose to send, so it is never believed)."""
    peer = peer or "unknown"
    nets = _networks(tuple(trusted_proxies))
    if not forwarded_for or not nets or not _trusted(peer, nets):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, nets):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: fall back to the proxy itself
    return hops[0] if hops else peer


# ---- filing --------------------------------------------------------------------------------------------


async def bound_account(session: AsyncSession, account_id: int) -> Any:
    row = (
        await session.execute(
            select(Account.id, Account.resident_id, Account.disabled).where(Account.id == account_id)
        )
    ).first()
    if row is None or row.resident_id is None or row.disabled:
        raise NotBound(
            "Bind your account to your household first (POST /m/v1/me/binding): reports are filed for "
            "the residents of this district."
        )
    return row


async def replay(session: AsyncSession, account_id: int, idem_key: str) -> Report | None:
    return (
        await session.execute(
            select(Report).where(Report.account_id == account_id, Report.idem_key == idem_key)
        )
    ).scalar_one_or_none()


def check_photo_count(count: int, settings: MobileSettings) -> None:
    if count > settings.photo_max_count:
        raise TooManyPhotos(
            f"A report takes at most {settings.photo_max_count} photos; this one has {count}. "
            "Leave some out.",
            limit=settings.photo_max_count,
        )


def ticket_body(form: ReportForm, account_id: int, urls: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "mini_program",
        "text": form.text,
        # the mini-program account, so dispatch can tell us of each step (its reporter.update pushes)
        "reporter": {
            "resident_id": str(account_id),
            "anonymous": form.anonymous,
            "contact_allowed": form.contact_allowed,
        },
        "attachments": [{"url": u, "kind": "photo"} for u in urls],
    }
    if form.lat is not None and form.lng is not None:
        body["lat"], body["lng"] = form.lat, form.lng
    if form.address:
        body["address"] = form.address
    return body


def summary_of(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= SUMMARY_CHARS else one_line[: SUMMARY_CHARS - 1] + "…"


def area_name(t: TicketRef) -> str | None:
    parts = [p for p in (t.place.community_name, t.place.grid_name) if p]
    return " ".join(parts) or None


async def file_report(
    session: AsyncSession,
    *,
    settings: MobileSettings,
    storage: LocalStorage | S3Storage,
    dispatch: DispatchClient,
    account_id: int,
    form: ReportForm,
    photos: list[CleanPhoto],
    idem_key: str | None,
) -> tuple[Report, TicketRef | None, bool]:
    """Steps 4–6 of the module docstring. Returns the mirror row, dispatch's ticket (None when another
    request with the same key got there first) and whether this was a replay."""
    await photo_store.store(storage, photos)
    urls = [photo_store.public_url(settings, p.id) for p in photos]
    dispatch_key = f"mobile-{account_id}-{idem_key or uuid.uuid4().hex}"
    filed = False
    try:
        ticket, replayed = await dispatch.create_ticket(
            ticket_body(form, account_id, urls), idempotency_key=dispatch_key
        )
        filed = True  # from here on dispatch's ticket links the photos: they stay
        names = await dispatch.unit_names()
        if photos:
            await session.execute(
                insert(Photo)
                .values(
                    [
                        {
                            "id": p.id,
                            "account_id": account_id,
                            "key": p.key,
                            "original_key": p.original_key,
                            "content_type": p.content_type,
                            "bytes": len(p.original),
                            "width": p.width,
                            "height": p.height,
                            "sha256": p.sha256,
                        }
                        for p in photos
                    ]
                )
                .on_conflict_do_nothing(index_elements=[Photo.id])
            )
        unit = ticket.routing.unit
        new_id = (
            await session.execute(
                insert(Report)
                .values(
                    account_id=account_id,
                    ticket_id=ticket.id,
                    ticket_number=ticket.number,
                    idem_key=idem_key,
                    summary=summary_of(form.text),
                    photo_count=len(photos),
                    first_photo_id=photos[0].id if photos else None,
                    status=ticket.status,
                    merged_into=ticket.master_number,
                    unit_name=(names.get(unit) if unit else None)
                    or public_unit_name(ticket.routing.unit_name),
                    created_at=ticket.created_at,
                    updated_at=ticket.updated_at,
                )
                .on_conflict_do_nothing()
                .returning(Report.id)
            )
        ).scalar_one_or_none()
    except BaseException:
        if not filed:
            await photo_store.remove(storage, photos)
        raise
    if new_id is None:
        # the same report reached us twice at once (same key, or dispatch replayed a ticket we mirror)
        existing = (
            await session.execute(select(Report).where(Report.ticket_id == ticket.id))
        ).scalar_one_or_none()
        if existing is None or existing.account_id != account_id:
            existing = await replay(session, account_id, idem_key or "")
        assert existing is not None
        return existing, None, True
    report = (await session.execute(select(Report).where(Report.id == new_id))).scalar_one()
    # dispatch replayed: an earlier attempt with this key filed it (and its answer was lost)
    return report, ticket, replayed


def report_read(settings: MobileSettings, report: Report, ticket: TicketRef | None) -> dict[str, Any]:
    code = resident_status(report.status, report.satisfaction, report.merged_into)
    if ticket is not None:
        urls = [a["url"] for a in ticket.attachments if isinstance(a.get("url"), str)]
    else:
        urls = [photo_store.public_url(settings, report.first_photo_id)] if report.first_photo_id else []
    return {
        "number": report.ticket_number,
        "status": code,
        "status_label": LABELS[code],
        "unit_name": report.unit_name,
        "area_name": area_name(ticket) if ticket is not None else None,
        "photos": urls,
        "created_at": report.created_at,
    }


# ---- my tickets ------------------------------------------------------------------------------------------

_LIST_COLS = (
    "id, ticket_number, summary, status, satisfaction, merged_into, unit_name, photo_count, first_photo_id, "
    "created_at, updated_at"
)


@lru_cache(maxsize=64)
def _list_sql(status: str | None, after: bool) -> str:
    conds = ["account_id = $1"]
    if after:
        conds.append("id < $3")
    if status is not None:
        conds.append(SQL_FILTER[status])
    # ORDER BY id DESC on (account_id, id DESC): an index range scan, the same cost on page 1 and page 500
    return f"SELECT {_LIST_COLS} FROM mobile.report WHERE {' AND '.join(conds)} ORDER BY id DESC LIMIT $2"  # noqa: S608 — fixed fragments


async def ticket_page(
    session: AsyncSession,
    settings: MobileSettings,
    *,
    account_id: int,
    cursor: str | None,
    limit: int,
    status: str | None,
) -> bytes:
    """The page as JSON bytes (CursorPage[TicketItem])."""
    after = None
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        if not isinstance(after, int) or isinstance(after, bool) or not 0 < after < 2**63:
            raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.")
    conn = await session.connection()
    driver = (await conn.get_raw_connection()).driver_connection
    args: list[Any] = [account_id, limit + 1] + ([after] if after is not None else [])
    rows = await driver.fetch(_list_sql(status, after is not None), *args)  # type: ignore[union-attr]
    more = len(rows) > limit
    rows = rows[:limit]
    photo_base = f"{settings.public_url.rstrip('/')}/m/v1/photos/"
    items = []
    for r in rows:
        code = resident_status(r["status"], r["satisfaction"], r["merged_into"])
        first = r["first_photo_id"]
        items.append(
            {
                "number": r["ticket_number"],
                "summary": r["summary"],
                "status": code,
                "status_label": LABELS[code],
                "unit_name": r["unit_name"],
                "rated": r["satisfaction"] is not None,
                "photo_count": r["photo_count"],
                "photo_url": f"{photo_base}{first}" if first is not None else None,
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
            }
        )
    next_cursor = encode_cursor(rows[-1]["id"]) if more and rows else None
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=orjson.OPT_UTC_Z)
