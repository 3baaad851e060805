"""The wish flow: submit, the state machine's transitions under a row lock, who may see what, the wall.

Every transition locks the wish row (`SELECT … FOR UPDATE`), checks the table in `workflow.py` and the
per-wish rules, changes the row and appends one trail event, all in the request's one transaction. Fifty
units claiming at once therefore queue on the lock: the first finds the wish published and takes it;
each of the others then finds it claimed and gets a 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes import workflow as wf
from services.wishes.clients import RegistryClient
from services.wishes.clock import now_utc
from services.wishes.errors import (
    ActionForbidden,
    ActionInvalid,
    AlreadyClaimed,
    IdempotencyKeyReused,
    OutOfScope,
    ResidentNotFound,
    TransitionNotAllowed,
    VolunteerNotFound,
    WishNotFound,
)
from services.wishes.models import MemberUnit, Photo, Volunteer, Wish, WishEvent, WishPhoto, WishTarget
from services.wishes.points.service import award_for_wish
from services.wishes.schemas import ClaimBody, CompleteBody, PublishBody, WishCreate
from shared.auth import AREA_ROLES, SERVICE_ROLE, Principal

CST = ZoneInfo("Asia/Shanghai")


def today_cst() -> date:
    return datetime.now(CST).date()


def photo_url(photo_id: uuid.UUID) -> str:
    return f"/api/v1/photos/{photo_id}"


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else name


# ---- who sees what -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The caller, resolved once per request: their role, and their unit when they are a liaison."""

    principal: Principal
    unit: MemberUnit | None = None

    @property
    def role(self) -> str:
        return self.principal.role


async def viewer_for(session: AsyncSession, principal: Principal) -> Viewer:
    sc.require_role(principal, sc.READERS, "The wishes service")
    if principal.role == sc.LIAISON:
        return Viewer(principal, await sc.liaison_unit(session, principal))
    return Viewer(principal)


def _targets_unit(unit_id: int) -> ColumnElement[bool]:
    return exists().where(WishTarget.wish_id == Wish.id, WishTarget.unit_id == unit_id)


def _area(principal: Principal) -> ColumnElement[bool]:
    if not principal.scope:
        return false()
    return or_(*[Wish.area_code.startswith(code) for code in principal.scope])


def visible(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition: the wishes a caller may list (the wall has its own, narrower rule)."""
    p = viewer.principal
    if p.role == SERVICE_ROLE:
        return true()
    if p.role in AREA_ROLES:
        return _area(p)
    if viewer.unit is not None:
        return Wish.claimant_unit_id == viewer.unit.id
    return false()


def offered_to(unit: MemberUnit) -> ColumnElement[bool]:
    """Published wishes a unit may claim: inside its committee's area, open or directed to it."""
    return and_(
        Wish.status == "published",
        Wish.area_code.startswith(unit.area_code),
        or_(Wish.directed.is_(False), _targets_unit(unit.id)),
    )


async def _can_see(session: AsyncSession, viewer: Viewer, wish: Wish) -> bool:
    p = viewer.principal
    if p.role == SERVICE_ROLE:
        return True
    if p.role in AREA_ROLES:
        return p.covers_area(wish.area_code)
    unit = viewer.unit
    if unit is None:
        return False
    if wish.claimant_unit_id == unit.id:
        return True
    return wish.status == "published" and await _is_offered(session, wish, unit)


async def _is_offered(session: AsyncSession, wish: Wish, unit: MemberUnit) -> bool:
    if not sc.unit_covers(unit, wish.area_code):
        return False
    if not wish.directed:
        return True
    hit = await session.execute(
        select(WishTarget.unit_id).where(WishTarget.wish_id == wish.id, WishTarget.unit_id == unit.id)
    )
    return hit.first() is not None


def sees_resident(viewer: Viewer, wish: Wish) -> bool:
    """Staff of the area and the mobile service (for the resident) see who and where; a unit only once
    it holds the claim."""
    if viewer.role in AREA_ROLES or viewer.role == SERVICE_ROLE:
        return True
    return viewer.unit is not None and wish.claimant_unit_id == viewer.unit.id


# ---- reads -------------------------------------------------------------------------------------------


async def get_wish(session: AsyncSession, viewer: Viewer, wish_id: int, *, lock: bool = False) -> Wish:
    stmt = select(Wish).where(Wish.id == wish_id)
    if lock:
        stmt = stmt.with_for_update()
    wish = (await session.execute(stmt)).scalar_one_or_none()
    if wish is None:
        raise WishNotFound(f"No wish {wish_id}.")
    if lock and viewer.unit is not None and await _is_offered(session, wish, viewer.unit):
        # acting on a wish of its area: the state machine answers (a second claim is a 409, not a 404)
        return wish
    if not await _can_see(session, viewer, wish):
        if viewer.unit is not None and wish.status == "published":  # on a wall, just not this unit's
            raise OutOfScope(
                f"Wish {wish_id} is not offered to your unit {viewer.unit.code}: it is outside the area of "
                f"your committee ({viewer.unit.area_code}) or directed to other units."
            )
        raise WishNotFound(f"No wish {wish_id} that you can see.")
    return wish


async def photos_of(session: AsyncSession, wish_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    out: dict[int, dict[str, list[str]]] = {i: {"request": [], "proof": []} for i in wish_ids}
    if not wish_ids:
        return out
    rows = await session.execute(
        select(WishPhoto.wish_id, WishPhoto.kind, WishPhoto.photo_id)
        .where(WishPhoto.wish_id.in_(wish_ids))
        .order_by(WishPhoto.wish_id, WishPhoto.kind, WishPhoto.position)
    )
    for wid, kind, pid in rows:
        out[wid][kind].append(photo_url(pid))
    return out


async def wish_view(session: AsyncSession, viewer: Viewer, wish: Wish) -> dict[str, Any]:
    """The WishRead fields, with the resident shown or hidden by who is asking."""
    photos = (await photos_of(session, [wish.id]))[wish.id]
    targets = (
        (await session.execute(select(WishTarget.unit_id).where(WishTarget.wish_id == wish.id)))
        .scalars()
        .all()
    )
    claimant = None
    if wish.claimant_kind == "unit" and wish.claimant_unit_id:
        unit = await session.get(MemberUnit, wish.claimant_unit_id)
        claimant = {"kind": "unit", "id": unit.id, "name": unit.name} if unit else None
    elif wish.claimant_kind == "volunteer" and wish.claimant_volunteer_id:
        v = await session.get(Volunteer, wish.claimant_volunteer_id)
        claimant = {"kind": "volunteer", "id": v.id, "name": v.name} if v else None
    full = sees_resident(viewer, wish)
    staff = viewer.role in AREA_ROLES or viewer.role == SERVICE_ROLE
    return {
        **{c: getattr(wish, c) for c in _PLAIN},
        "resident_id": wish.resident_id if staff else None,
        "resident_name": wish.resident_name
        if full
        else (None if wish.privacy else mask_name(wish.resident_name)),
        "resident_address": wish.resident_address if full or not wish.privacy else None,
        "contact_phone": wish.contact_phone if full else None,
        "submitted_by": wish.submitted_by if staff else None,
        "target_unit_ids": sorted(targets),
        "claimant": claimant,
        "photos": photos["request"],
        "proof_photos": photos["proof"],
        "allowed_actions": wf.allowed_actions(wish.status, viewer.role),
    }


_PLAIN = (
    "id",
    "status",
    "category",
    "title",
    "description",
    "estimated_value",
    "wanted_by",
    "privacy",
    "source",
    "area_code",
    "grid_code",
    "grid_name",
    "community_code",
    "community_name",
    "submitted_at",
    "review_note",
    "reviewed_at",
    "directed",
    "published_at",
    "claimed_at",
    "started_at",
    "completed_at",
    "completion_note",
    "served",
    "confirmed_at",
    "auto_confirmed",
    "closed_at",
    "cancelled_at",
    "cancel_reason",
)


async def list_wishes(
    session: AsyncSession,
    viewer: Viewer,
    *,
    status: str | None,
    category: str | None,
    area_code: str | None,
    resident_id: int | None,
    claimant_unit_id: int | None,
    claimant_volunteer_id: int | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Wish], int]:
    conds: list[ColumnElement[bool]] = [visible(viewer)]
    if status:
        conds.append(Wish.status == status)
    if category:
        conds.append(Wish.category == category)
    if area_code:
        sc.ensure_area(viewer.principal, area_code, "The area")
        conds.append(Wish.area_code.startswith(area_code))
    if resident_id:
        conds.append(Wish.resident_id == resident_id)
    if claimant_unit_id:
        conds.append(Wish.claimant_unit_id == claimant_unit_id)
    if claimant_volunteer_id:
        conds.append(Wish.claimant_volunteer_id == claimant_volunteer_id)
    where = and_(*conds)
    total = (await session.execute(select(func.count()).select_from(Wish).where(where))).scalar_one()
    rows = (
        (
            await session.execute(
                select(Wish).where(where).order_by(Wish.id.desc()).limit(limit).offset(offset)
            )
        )
        .scalars()
        .all()
    )
    return rows, total


_CARD = (
    Wish.id,
    Wish.status,
    Wish.category,
    Wish.title,
    Wish.description,
    Wish.estimated_value,
    Wish.wanted_by,
    Wish.privacy,
    Wish.resident_name,
    Wish.resident_address,
    Wish.grid_code,
    Wish.grid_name,
    Wish.community_code,
    Wish.community_name,
    Wish.directed,
    Wish.published_at,
)


async def wall(
    session: AsyncSession,
    viewer: Viewer,
    *,
    area_code: str | None,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The wish wall (心愿墙): published wishes, newest first. A unit sees those offered to it (open ones
    of its committee's area and those directed to it); everyone else sees the open wall. Names are masked
    and, for a private wish, name and address are left out."""
    if viewer.unit is not None:
        conds: list[ColumnElement[bool]] = [offered_to(viewer.unit)]
    else:
        conds = [Wish.status == "published", Wish.directed.is_(False)]
    if area_code:
        if len(area_code) == 12:
            conds.append(Wish.community_code == area_code)  # the wall index's leading column
        else:
            conds.append(Wish.area_code.startswith(area_code))
    if category:
        conds.append(Wish.category == category)
    where = and_(*conds)
    total = (await session.execute(select(func.count()).select_from(Wish).where(where))).scalar_one()
    # the request photos ride along as an array, so a page is one round trip, not two
    photo_ids = (
        select(func.array_agg(aggregate_order_by(WishPhoto.photo_id, WishPhoto.position)))
        .where(WishPhoto.wish_id == Wish.id, WishPhoto.kind == "request")
        .correlate(Wish)
        .scalar_subquery()
        .label("photo_ids")
    )
    rows = (
        await session.execute(
            select(*_CARD, photo_ids)
            .where(where)
            .order_by(Wish.published_at.desc(), Wish.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    cards = []
    for r in rows:
        card = dict(r._mapping)
        card["resident_name"] = None if r.privacy else mask_name(r.resident_name)
        card["resident_address"] = None if r.privacy else r.resident_address
        card["photos"] = [photo_url(p) for p in card.pop("photo_ids") or ()]
        cards.append(card)
    return cards, total


async def trail(session: AsyncSession, viewer: Viewer, wish_id: int) -> list[WishEvent]:
    await get_wish(session, viewer, wish_id)
    rows = await session.execute(select(WishEvent).where(WishEvent.wish_id == wish_id).order_by(WishEvent.id))
    return list(rows.scalars().all())


# ---- submit ------------------------------------------------------------------------------------------


async def _photos(session: AsyncSession, ids: Sequence[uuid.UUID], what: str) -> list[Photo]:
    if not ids:
        return []
    if len(set(ids)) != len(ids):
        raise ActionInvalid(f"{what}: a photo id appears twice.")
    found = {p.id: p for p in (await session.execute(select(Photo).where(Photo.id.in_(ids)))).scalars()}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ActionInvalid(
            f"{what}: no uploaded photo with id {', '.join(missing)}; upload with POST /api/v1/photos."
        )
    return [found[i] for i in ids]


def _event(
    wish: Wish,
    action: str,
    label: str,
    before: str | None,
    principal_sub: str,
    role: str,
    at: datetime,
    **kw: Any,
) -> WishEvent:
    return WishEvent(
        wish_id=wish.id,
        action=action,
        from_status=before,
        to_status=wish.status,
        actor=principal_sub,
        actor_role=role,
        at=at,
        note=kw.pop("note", None),
        data=kw.pop("data", None) or {},
    )


def _same_request(wish: Wish, body: WishCreate) -> bool:
    """Whether a retry asks for the wish already made. Photos are left out: a caller that lost the answer
    uploads them again and gets new ids."""
    return (
        wish.resident_id,
        wish.category,
        wish.title,
        wish.description,
        wish.estimated_value,
        wish.wanted_by,
        wish.privacy,
        wish.contact_phone,
    ) == (
        body.resident_id,
        body.category,
        body.title,
        body.description,
        body.estimated_value,
        body.wanted_by,
        body.privacy,
        body.contact_phone,
    )


async def _submitted_with(
    session: AsyncSession, principal: Principal, body: WishCreate, key: str
) -> Wish | None:
    """The wish an earlier request with this key made, if any. A transaction-scoped advisory lock on
    (caller, key) makes a concurrent retry wait for the first attempt and then find its wish."""
    lock = func.pg_advisory_xact_lock(func.hashtext(principal.sub), func.hashtext(key))
    await session.execute(select(lock))
    stored = (
        await session.execute(select(Wish).where(Wish.submitted_by == principal.sub, Wish.submit_key == key))
    ).scalar_one_or_none()
    if stored is not None and not _same_request(stored, body):
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used for wish {stored.id} ({stored.title}); "
            "use a new key for a new wish.",
            wish_id=stored.id,
        )
    return stored


async def submit(
    session: AsyncSession,
    principal: Principal,
    registry: RegistryClient,
    body: WishCreate,
    idem_key: str | None = None,
) -> tuple[Wish, bool]:
    """点单. Returns the wish and whether it is a replay: a request with an Idempotency-Key this caller
    already used for the same wish gets that wish back."""
    sc.require_role(principal, (*sc.GRID_STAFF, SERVICE_ROLE), "Submitting a wish")
    if idem_key is not None:
        stored = await _submitted_with(session, principal, body, idem_key)
        if stored is not None:
            return stored, True
    if body.wanted_by is not None and body.wanted_by < today_cst():
        raise ActionInvalid(f"wanted_by {body.wanted_by} is in the past; give today or a later date.")
    photos = await _photos(session, body.photo_ids, "photo_ids")
    resident = await registry.resident(body.resident_id)
    if resident is None:
        raise ResidentNotFound(f"The registry has no resident {body.resident_id}.")
    sc.ensure_area(principal, resident.area_code, "The resident's household")
    grid = resident.grid
    community = resident.community
    at = now_utc()
    wish = Wish(
        status="submitted",
        category=body.category,
        title=body.title,
        description=body.description,
        estimated_value=body.estimated_value,
        wanted_by=body.wanted_by,
        privacy=body.privacy,
        source="mini_program" if principal.role == SERVICE_ROLE else "grid_worker",
        resident_id=resident.id,
        household_id=resident.household_id,
        resident_name=resident.name,
        resident_address=resident.address[:200],
        contact_phone=body.contact_phone,
        area_code=resident.area_code,
        grid_code=grid.code if grid else resident.area_code[:15],
        grid_name=grid.name if grid else "",
        community_code=community.code if community else resident.area_code[:12],
        community_name=community.name if community else "",
        submitted_by=principal.sub,
        submit_key=idem_key,
        submitted_at=at,
        updated_at=at,
        served=[],
    )
    session.add(wish)
    await session.flush()
    for i, p in enumerate(photos):
        session.add(WishPhoto(wish_id=wish.id, photo_id=p.id, kind="request", position=i))
    session.add(_event(wish, "submit", "点单", None, principal.sub, principal.role, at))
    await session.flush()
    return wish, False


# ---- transitions -------------------------------------------------------------------------------------


class Flow:
    """One transition on one locked wish."""

    def __init__(self, session: AsyncSession, viewer: Viewer, wish: Wish, action: str) -> None:
        self.session, self.viewer, self.wish, self.action = session, viewer, wish, wf.ACTIONS[action]
        self.before = wish.status
        self.at = now_utc()

    @classmethod
    async def begin(cls, session: AsyncSession, viewer: Viewer, wish_id: int, action: str) -> Flow:
        wish = await get_wish(session, viewer, wish_id, lock=True)
        a = wf.ACTIONS[action]
        if viewer.role not in a.roles:
            raise ActionForbidden(
                f"'{action}' ({a.label}) is for {', '.join(a.roles)}; you are {viewer.role}.",
                allowed=wf.allowed_actions(wish.status, viewer.role),
            )
        if wish.status not in a.sources:
            kind = (
                AlreadyClaimed
                if action == "claim" and wish.status in ("claimed", "in_progress")
                else TransitionNotAllowed
            )
            raise kind(
                f"Wish {wish.id} is {wish.status}; '{action}' needs {' or '.join(a.sources)}.",
                status_now=wish.status,
                allowed=wf.allowed_actions(wish.status, viewer.role),
            )
        if viewer.role in AREA_ROLES and action not in ("claim",):
            sc.ensure_area(viewer.principal, wish.area_code, f"Wish {wish.id}")
        flow = cls(session, viewer, wish, action)
        if a.by_claimant:
            flow.require_claimant()
        return flow

    def require_claimant(self) -> None:
        """Only the current claimant acts on a claimed wish: their unit's liaison, or grid staff of the
        wish's area (recording for a volunteer or a unit that phoned in)."""
        unit = self.viewer.unit
        if unit is not None and self.wish.claimant_unit_id != unit.id:
            raise OutOfScope(f"Wish {self.wish.id} is held by another claimant; your unit is {unit.code}.")

    async def finish(self, *, note: str | None = None, data: dict[str, Any] | None = None) -> Wish:
        w = self.wish
        w.status = self.action.target
        w.updated_at = self.at
        p = self.viewer.principal
        self.session.add(
            _event(
                w,
                self.action.name,
                self.action.label,
                self.before,
                p.sub,
                p.role,
                self.at,
                note=note,
                data=data,
            )
        )
        await self.session.flush()
        return w


def _clear_claim(w: Wish) -> dict[str, Any]:
    before = {
        "claimant_kind": w.claimant_kind,
        "claimant_unit_id": w.claimant_unit_id,
        "claimant_volunteer_id": w.claimant_volunteer_id,
        "claimed_at": w.claimed_at.isoformat() if w.claimed_at else None,
    }
    w.claimant_kind = w.claimant_unit_id = w.claimant_volunteer_id = None
    w.claimed_by = w.claimed_at = w.started_at = None
    return before


async def _resident_check(flow: Flow, resident_id: int | None) -> None:
    """The mobile service acts for one resident: it must name them, and it must be their wish."""
    if flow.viewer.role == SERVICE_ROLE and resident_id is None:
        raise ActionInvalid("Acting for a resident, give resident_id.")
    if resident_id is not None and resident_id != flow.wish.resident_id:
        raise WishNotFound(f"No wish {flow.wish.id} of resident {resident_id}.")


async def approve(session: AsyncSession, viewer: Viewer, wish_id: int, note: str | None) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "approve")
    f.wish.review_note, f.wish.reviewed_by, f.wish.reviewed_at = note, viewer.principal.sub, f.at
    return await f.finish(note=note)


async def reject(session: AsyncSession, viewer: Viewer, wish_id: int, note: str) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "reject")
    f.wish.review_note, f.wish.reviewed_by, f.wish.reviewed_at = note, viewer.principal.sub, f.at
    return await f.finish(note=note)


async def _unit_for(session: AsyncSession, unit_id: int, wish: Wish) -> MemberUnit:
    unit = await session.get(MemberUnit, unit_id)
    if unit is None or not unit.active:
        raise ActionInvalid(f"No active member unit {unit_id}.")
    if not sc.unit_covers(unit, wish.area_code):
        raise OutOfScope(
            f"Unit {unit.code} ({unit.name}) serves area {unit.area_code}; wish {wish.id} is in {wish.area_code}."
        )
    return unit


async def publish(session: AsyncSession, viewer: Viewer, wish_id: int, body: PublishBody) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "publish")
    ids = list(dict.fromkeys(body.unit_ids))
    bad = []
    for uid in ids:
        unit = await session.get(MemberUnit, uid)
        if unit is None or not unit.active or not sc.unit_covers(unit, f.wish.area_code):
            bad.append(uid)
    if bad:
        raise ActionInvalid(
            f"Units {', '.join(map(str, bad))} are not active member units serving area {f.wish.area_code}."
        )
    for uid in ids:
        session.add(WishTarget(wish_id=f.wish.id, unit_id=uid))
    f.wish.directed = bool(ids)
    f.wish.published_at = f.at
    return await f.finish(note=body.note, data={"unit_ids": ids} if ids else {"wall": "open"})


async def claim(session: AsyncSession, viewer: Viewer, wish_id: int, body: ClaimBody) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "claim")
    w = f.wish
    volunteer: Volunteer | None = None
    if viewer.unit is not None:  # a liaison claims for their own unit
        unit = viewer.unit
        if body.unit_id is not None and body.unit_id != unit.id:
            raise OutOfScope(f"You act for unit {unit.code} (id {unit.id}), not unit {body.unit_id}.")
    else:
        sc.ensure_area(viewer.principal, w.area_code, f"Wish {w.id}")
        if body.unit_id is None and body.volunteer_id is None:
            raise ActionInvalid("Say who claims: unit_id, volunteer_id, or both (a unit's volunteer).")
        unit = await _unit_for(session, body.unit_id, w) if body.unit_id is not None else None
    if unit is not None:
        if not sc.unit_covers(unit, w.area_code):
            raise OutOfScope(
                f"Unit {unit.code} serves area {unit.area_code}; wish {w.id} is in {w.community_name or w.area_code}."
            )
        if w.directed and not await _is_offered(session, w, unit):
            raise OutOfScope(f"Wish {w.id} is directed to other units; {unit.code} may not claim it.")
    if body.volunteer_id is not None:
        volunteer = await session.get(Volunteer, body.volunteer_id)
        if volunteer is None or not volunteer.active:
            raise VolunteerNotFound(f"No active volunteer {body.volunteer_id}.")
        if unit is not None and volunteer.unit_id != unit.id:
            raise OutOfScope(f"Volunteer {volunteer.id} is not a member of unit {unit.code}.")
        if unit is None and not (
            w.area_code.startswith(volunteer.area_code) or volunteer.area_code.startswith(w.community_code)
        ):
            raise OutOfScope(
                f"Volunteer {volunteer.id} reported to {volunteer.area_code}, not to the wish's community."
            )
        if unit is None and w.directed:
            raise OutOfScope(f"Wish {w.id} is directed to chosen units; a volunteer may not claim it alone.")
    w.claimant_kind = "unit" if unit is not None else "volunteer"
    w.claimant_unit_id = unit.id if unit is not None else None
    w.claimant_volunteer_id = volunteer.id if volunteer is not None else None
    w.claimed_by, w.claimed_at, w.ever_claimed = viewer.principal.sub, f.at, True
    return await f.finish(
        note=body.note,
        data={"unit_id": w.claimant_unit_id, "volunteer_id": w.claimant_volunteer_id},
    )


async def withdraw(session: AsyncSession, viewer: Viewer, wish_id: int, note: str) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "withdraw")
    before = _clear_claim(f.wish)
    return await f.finish(note=note, data={"previous": before})


async def start(session: AsyncSession, viewer: Viewer, wish_id: int, note: str | None) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "start")
    f.wish.started_at = f.at
    return await f.finish(note=note)


async def complete(session: AsyncSession, viewer: Viewer, wish_id: int, body: CompleteBody) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "complete")
    w = f.wish
    photos = await _photos(session, body.proof_photo_ids, "proof_photo_ids")
    served = [{"volunteer_id": s.volunteer_id, "hours": s.hours} for s in body.served]
    if w.claimant_volunteer_id and all(s["volunteer_id"] != w.claimant_volunteer_id for s in served):
        served.insert(0, {"volunteer_id": w.claimant_volunteer_id, "hours": 0.0})
    if served:
        ids = [s["volunteer_id"] for s in served]
        found = {
            v.id: v for v in (await session.execute(select(Volunteer).where(Volunteer.id.in_(ids)))).scalars()
        }
        missing = [i for i in ids if i not in found or not found[i].active]
        if missing:
            raise ActionInvalid(f"served: no active volunteer {', '.join(map(str, missing))}.")
        if viewer.unit is not None:
            others = [i for i in ids if found[i].unit_id != viewer.unit.id and i != w.claimant_volunteer_id]
            if others:
                raise OutOfScope(
                    f"served: volunteers {', '.join(map(str, others))} are not members of your unit."
                )
    # a re-completion after a dispute replaces the earlier proof
    old = await session.execute(select(WishPhoto).where(WishPhoto.wish_id == w.id, WishPhoto.kind == "proof"))
    for p in old.scalars():
        await session.delete(p)
    await session.flush()
    for i, p in enumerate(photos):
        session.add(WishPhoto(wish_id=w.id, photo_id=p.id, kind="proof", position=i))
    w.completed_at, w.completion_note, w.served = f.at, body.note, served
    return await f.finish(
        note=body.note, data={"proof_photos": [str(p.id) for p in photos], "served": served}
    )


async def dispute(
    session: AsyncSession, viewer: Viewer, wish_id: int, resident_id: int | None, note: str
) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "dispute")
    await _resident_check(f, resident_id)
    f.wish.completed_at = None
    return await f.finish(note=note)


async def confirm(
    session: AsyncSession, viewer: Viewer, wish_id: int, resident_id: int | None, note: str | None
) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "confirm")
    await _resident_check(f, resident_id)
    f.wish.confirmed_at = f.at
    return await f.finish(note=note)


async def close(session: AsyncSession, viewer: Viewer, wish_id: int, note: str | None) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "close")
    f.wish.closed_at = f.at
    entries = await award_for_wish(session, f.wish, actor=viewer.principal.sub)
    return await f.finish(
        note=note, data={"points": [{"volunteer_id": e.volunteer_id, "points": e.delta} for e in entries]}
    )


async def cancel(
    session: AsyncSession, viewer: Viewer, wish_id: int, resident_id: int | None, note: str
) -> Wish:
    f = await Flow.begin(session, viewer, wish_id, "cancel")
    await _resident_check(f, resident_id)
    w = f.wish
    w.cancelled_at, w.cancel_reason = f.at, note
    data = {"previous": _clear_claim(w)} if w.claimant_kind else {}
    return await f.finish(note=note, data=data)


# ---- the jobs: lapsing claims and auto-confirmation ----------------------------------------------------


async def lapse_claims(
    session: AsyncSession, *, older_than: timedelta, now: datetime, batch: int
) -> list[int]:
    """Claims not started within the limit go back to the wall (recorded, by `system`)."""
    rows = (
        (
            await session.execute(
                select(Wish)
                .where(Wish.status == "claimed", Wish.claimed_at <= now - older_than)
                .order_by(Wish.claimed_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for w in rows:
        before = _clear_claim(w)
        w.status, w.updated_at = "published", now
        a = wf.ACTIONS["lapse"]
        session.add(
            _event(
                w,
                a.name,
                a.label,
                "claimed",
                wf.SYSTEM,
                wf.SYSTEM,
                now,
                note=f"认领后 {older_than.days} 天未开始实施，退回心愿墙",
                data={"previous": before},
            )
        )
    await session.flush()
    return [w.id for w in rows]


async def auto_confirm(
    session: AsyncSession, *, older_than: timedelta, now: datetime, batch: int
) -> list[int]:
    """Completed wishes the resident has not answered within the limit are confirmed (by `system`)."""
    rows = (
        (
            await session.execute(
                select(Wish)
                .where(Wish.status == "completed", Wish.completed_at <= now - older_than)
                .order_by(Wish.completed_at)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for w in rows:
        w.status, w.updated_at, w.confirmed_at, w.auto_confirmed = "confirmed", now, now, True
        a = wf.ACTIONS["auto_confirm"]
        session.add(
            _event(
                w,
                a.name,
                a.label,
                "completed",
                wf.SYSTEM,
                wf.SYSTEM,
                now,
                note=f"完成后 {older_than.days} 天居民未确认，自动确认",
            )
        )
    await session.flush()
    return [w.id for w in rows]
