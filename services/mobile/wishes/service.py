"""微心愿 for residents: make a wish (with photos), follow and answer my wishes, read my community's wall.

Wishes owns the wishes; mobile calls it as `svc-mobile` naming the resident (the registry resident id
stored at binding). Wishes trusts that id, so every read and step here first checks that the wish is
the caller's own: another resident's wish is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from fastapi import UploadFile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile import limits
from services.mobile.clients.wishes import WishesClient, WishesRefused, WishEventRef, WishRef, photo_id_of
from services.mobile.errors import NotBound, PhotoNotFound, WishNotFound
from services.mobile.models import Account, WishRequest
from services.mobile.paging import BadCursor, CursorPage, decode_cursor, encode_cursor
from services.mobile.settings import MobileSettings
from services.mobile.wishes.errors import (
    IdempotencyKeyReused,
    PhotoLinkInvalid,
    PhotoTooLarge,
    TooManyPhotos,
    WishActionNotAllowed,
)
from services.mobile.wishes.schemas import (
    MAX_PHOTOS,
    STATUS_LABELS,
    Claimant,
    MyWishRead,
    MyWishSummary,
    TrailStep,
    WallCard,
    WishForm,
)
from services.mobile.wishes.seek import seek

WISHES_A_DAY = limits.Limit("wish:resident", 10, 86400, "wishes a day from one resident")
TWIN_WINDOW = timedelta(minutes=5)  # the same wish sent again within this is the same wish
PHOTO_LINK_TTL_S = 86400

# wishes' steps a resident takes, by the name the mini-program uses
RESIDENT_ACTIONS = {"confirm": "confirm", "dispute": "dispute", "cancel": "withdraw"}
BY_ROLE = {
    "service": "我",
    "grid_worker": "网格员",
    "community_admin": "社区",
    "street_dispatcher": "街道",
    "district_admin": "区",
    "unit_liaison": "成员单位",
    "system": "系统",
}
DONE = {"confirm": "confirmed", "dispute": "disputed", "withdraw": "withdrawn"}
CLAIMANT_STEPS = ("claim", "start", "complete", "withdraw")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the fields of a wish its resident reads as they are (no staff accounts, no other people)
SHOWN = set(
    "id category title description estimated_value wanted_by privacy contact_phone status grid_name "
    "community_name submitted_at completion_note review_note cancel_reason claimed_at completed_at "
    "confirmed_at auto_confirmed closed_at cancelled_at".split()
)


def mask(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


def label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


# ---- photo links: an <image src> cannot send a token, so links are signed and expire ---------------------


@lru_cache(maxsize=4)
def _link_key(token_key: str) -> bytes:
    seed = base64.urlsafe_b64decode(token_key + "=" * (-len(token_key) % 4))
    return hashlib.sha256(b"gridgov-mobile wish-photo-link\x00" + seed).digest()


def _sig(settings: MobileSettings, photo_id: uuid.UUID, exp: int) -> str:
    mac = hmac.new(_link_key(settings.token_key), f"{photo_id}.{exp}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def photo_link(settings: MobileSettings, url: str, now: float | None = None) -> str:
    """A link to a wish photo, valid for a day; the same link all hour, so clients may cache it."""
    pid = photo_id_of(url)
    now = time.time() if now is None else now
    exp = (int(now) // 3600 + 1) * 3600 + PHOTO_LINK_TTL_S
    base = settings.public_url.rstrip("/")
    return f"{base}/m/v1/wishes/photos/{pid}?exp={exp}&sig={_sig(settings, pid, exp)}"


async def photo(
    client: WishesClient, settings: MobileSettings, photo_id: uuid.UUID, exp: int, sig: str
) -> tuple[bytes, str]:
    if not hmac.compare_digest(sig.encode(), _sig(settings, photo_id, exp).encode()):
        raise PhotoLinkInvalid("This photo link was altered: use the links a wish gives, unchanged.")
    if exp < time.time():
        raise PhotoLinkInvalid(
            "This photo link has expired: read the wish (or the wall) again for fresh links."
        )
    got = await client.photo(photo_id)
    if got is None:
        raise PhotoNotFound(f"No photo {photo_id}.")
    return got


# ---- reading -------------------------------------------------------------------------------------------


def _holder_name(wish: WishRef, holder: tuple[str, int]) -> str:
    c = wish.claimant
    if c is not None and (c.kind, c.id) == holder:
        return c.name if c.kind == "unit" else mask(c.name)
    return "成员单位" if holder[0] == "unit" else "志愿者"


def trail(wish: WishRef, events: Sequence[WishEventRef]) -> list[TrailStep]:
    """The steps as a resident reads them: who by role (网格员, 社区) or by the claimant's name, never a
    staff account."""
    holder: tuple[str, int] | None = None
    steps = []
    for e in events:
        if e.action == "claim":
            d = e.data
            holder = ("unit", d["unit_id"]) if d.get("unit_id") else ("volunteer", d.get("volunteer_id") or 0)
        if e.action in CLAIMANT_STEPS and holder is not None:
            by = _holder_name(wish, holder)
        else:
            by = BY_ROLE.get(e.actor_role, "工作人员")
        if e.action in ("withdraw", "lapse", "cancel"):
            holder = None
        steps.append(
            TrailStep(
                at=e.at,
                label=e.label,
                status=e.to_status,
                status_label=label(e.to_status),
                by=by,
                note=e.note,
            )
        )
    return steps


def read(settings: MobileSettings, wish: WishRef, steps: list[TrailStep]) -> MyWishRead:
    c = wish.claimant
    mine = {RESIDENT_ACTIONS[a] for a in wish.allowed_actions if a in RESIDENT_ACTIONS}
    return MyWishRead(
        **wish.model_dump(include=SHOWN),
        status_label=label(wish.status),
        claimant=Claimant(kind=c.kind, name=c.name if c.kind == "unit" else mask(c.name)) if c else None,
        photos=[photo_link(settings, u) for u in wish.photos],
        proof_photos=[photo_link(settings, u) for u in wish.proof_photos],
        actions=[a for a in ("confirm", "dispute", "withdraw") if a in mine],  # type: ignore[misc]
        trail=steps,
    )


async def mine(client: WishesClient, account: Account, wish_id: int) -> WishRef:
    wish = await client.get(wish_id)
    if wish is None or wish.resident_id != account.resident_id:
        raise WishNotFound(f"You have no wish {wish_id}.")
    return wish


async def get_wish(
    client: WishesClient, settings: MobileSettings, account: Account, wish_id: int
) -> MyWishRead:
    wish = await mine(client, account, wish_id)
    return read(settings, wish, trail(wish, await client.events(wish_id)))


def _cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor, len(types))
    if not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types, strict=True)):
        raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.")
    if key[-1] < 0:
        raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.")
    return key


async def list_mine(
    client: WishesClient, account: Account, cursor: str | None, limit: int
) -> CursorPage[MyWishSummary]:
    """My wishes, newest first; wishes made while I scroll never repeat a row."""
    key = _cursor(cursor, (int, int))
    resident_id = account.resident_id or 0

    async def fetch(offset: int, n: int) -> tuple[list[Any], int]:
        page = await client.of_resident(resident_id, limit=n, offset=offset)
        return page.items, page.total

    items, nxt, more = await seek(
        fetch, key=lambda w: w.id, after=key[0] if key else None, hint=key[1] if key else 0, limit=limit
    )
    last = items[-1].id if items else (key[0] if key else None)
    return CursorPage[MyWishSummary](
        items=[MyWishSummary(**w.model_dump(), status_label=label(w.status)) for w in items],
        next_cursor=encode_cursor(last, nxt) if more and last is not None else None,
    )


def community_of(account: Account) -> str:
    code = account.area_code or ""
    if len(code) < 12:
        raise NotBound(
            "Your binding has no community yet: bind your household again (POST /m/v1/me/binding)."
        )
    return code[:12]


async def wall(
    client: WishesClient,
    settings: MobileSettings,
    account: Account,
    *,
    category: str | None,
    cursor: str | None,
    limit: int,
) -> CursorPage[WallCard]:
    """The open wish wall of my community (心愿墙), newest first."""
    community = community_of(account)
    key = _cursor(cursor, (str, int, int))
    after = None
    if key:
        try:
            after = (datetime.fromisoformat(key[0]), key[1])
        except ValueError:
            raise BadCursor("Pass back `next_cursor` exactly as a previous page gave it.") from None

    async def fetch(offset: int, n: int) -> tuple[list[Any], int]:
        page = await client.wall(community, category=category, limit=n, offset=offset)
        return page.items, page.total

    items, nxt, more = await seek(
        fetch,
        key=lambda c: (c.published_at or EPOCH, c.id),
        after=after,
        hint=key[2] if key else 0,
        limit=limit,
    )
    cards = [
        WallCard(
            **c.model_dump(exclude={"photos", "privacy"}),
            photos=[photo_link(settings, u) for u in c.photos],
        )
        for c in items
    ]
    last = (items[-1].published_at or EPOCH, items[-1].id) if items else after
    return CursorPage[WallCard](
        items=cards,
        next_cursor=encode_cursor(last[0].isoformat(), last[1], nxt) if more and last else None,
    )


# ---- making a wish -------------------------------------------------------------------------------------


async def _read_photos(
    settings: MobileSettings, photos: Sequence[UploadFile]
) -> list[tuple[str, bytes, str]]:
    if len(photos) > MAX_PHOTOS:
        raise TooManyPhotos(f"At most {MAX_PHOTOS} photos go with a wish; {len(photos)} were sent.")
    out = []
    for i, f in enumerate(photos, 1):
        data = await f.read(settings.photo_max_bytes + 1)
        if len(data) > settings.photo_max_bytes:
            raise PhotoTooLarge(
                f"Photo {i} is over {settings.photo_max_bytes:,} bytes; send a smaller one.", photo=i
            )
        out.append((f.filename or f"photo-{i}.jpg", data, f.content_type or "application/octet-stream"))
    return out


def _fingerprint(form: WishForm, photos: Sequence[tuple[str, bytes, str]]) -> str:
    h = hashlib.sha256(orjson.dumps(form.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))
    for _, data, _ in photos:
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


async def _twin(client: WishesClient, account: Account, form: WishForm) -> int | None:
    """The same wish sent again a moment ago (a double tap, a retry after a lost answer), still waiting
    for review."""
    page = await client.of_resident(account.resident_id or 0, limit=5, offset=0)
    since = datetime.now(UTC) - TWIN_WINDOW
    for w in page.items:
        same = (w.category, w.title, w.estimated_value, w.wanted_by, w.privacy) == (
            form.category,
            form.title,
            form.estimated_value,
            form.wanted_by,
            form.privacy,
        )
        if same and w.status == "submitted" and w.submitted_at >= since:
            return w.id
    return None


async def submit(
    session: AsyncSession,
    client: WishesClient,
    settings: MobileSettings,
    account: Account,
    form: WishForm,
    photos: Sequence[UploadFile],
    idem_key: str | None,
) -> tuple[MyWishRead, bool]:
    """点单. Returns the wish and whether it is new: the same `Idempotency-Key`, or the same wish sent again
    within minutes, gives back the wish already made."""
    blobs = await _read_photos(settings, photos)
    fingerprint = _fingerprint(form, blobs)
    # one submission per resident at a time, so a double tap cannot pass the checks below twice
    lock = func.pg_advisory_xact_lock(func.hashtextextended(f"mobile.wish:{account.id}", 0))
    await session.execute(select(lock))
    if idem_key:
        row = await session.get(WishRequest, (account.id, idem_key))
        if row is not None and row.wish_id is not None:
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {idem_key!r} already made wish {row.wish_id} with other content; "
                    "use a new key for a new wish."
                )
            return await get_wish(client, settings, account, row.wish_id), False
    twin = await _twin(client, account, form)
    if twin is None:
        await limits.hit(session, WISHES_A_DAY, str(account.id))
        photo_ids = []
        for i, (name, data, ctype) in enumerate(blobs, 1):
            try:
                photo_ids.append(await client.upload_photo(data, name, ctype))
            except WishesRefused as exc:
                raise WishesRefused(
                    exc.status, exc.type, exc.title, f"Photo {i}: {exc.detail}", photo=i
                ) from None
        wish, replayed = await client.submit(
            {
                "resident_id": account.resident_id,
                **form.model_dump(mode="json", exclude_none=True),
                "photo_ids": [str(p) for p in photo_ids],
            },
            # the resident's key, per account: if this answer is lost after wishes made the wish, a retry
            # with the same key gets that wish back from wishes, however late
            f"{account.id}:{idem_key}" if idem_key else None,
        )
        if replayed:
            out, created = await get_wish(client, settings, account, wish.id), False
        else:
            first = TrailStep(
                at=wish.submitted_at,
                label="点单",
                status="submitted",
                status_label=label("submitted"),
                by="我",
                note=None,
            )
            out, created = read(settings, wish, [first]), True
    else:
        out, created = await get_wish(client, settings, account, twin), False
    if idem_key:
        session.add(
            WishRequest(account_id=account.id, idem_key=idem_key, fingerprint=fingerprint, wish_id=out.id)
        )
        await session.flush()
    return out, created


# ---- the resident's steps --------------------------------------------------------------------------------


async def act(
    client: WishesClient,
    settings: MobileSettings,
    account: Account,
    wish_id: int,
    action: str,
    note: str | None,
) -> MyWishRead:
    """confirm (completed → confirmed), dispute (completed → back in progress), withdraw (wishes'
    `cancel`, with the resident's reason)."""
    await mine(client, account, wish_id)
    body: dict[str, Any] = {"resident_id": account.resident_id}
    if note:
        body["note"] = note
    try:
        wish = await client.act(wish_id, "cancel" if action == "withdraw" else action, body)
    except WishesRefused as exc:
        if exc.status != 409:
            raise
        now = exc.extra.get("status_now")
        allowed = [RESIDENT_ACTIONS[a] for a in exc.extra.get("allowed", []) if a in RESIDENT_ACTIONS]
        may = f" You may: {', '.join(allowed)}." if allowed else " There is nothing for you to do on it now."
        raise WishActionNotAllowed(
            f"Wish {wish_id} is {label(now) if now else 'in another state'} ({now}); it cannot be "
            f"{DONE[action]} now.{may}",
            status_now=now,
            status_label=label(now) if now else None,
            allowed=allowed,
        ) from None
    if wish is None:
        raise WishNotFound(f"You have no wish {wish_id}.")
    return read(settings, wish, trail(wish, await client.events(wish_id)))
