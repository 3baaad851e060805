"""The community's needs list (需求清单) and the yearly project list (项目清单) with quarterly progress
and a review (项目评议).

A unit claims at most `max_projects_per_unit` projects a year. The claim locks the unit's row before
counting, and then the project's row, so a unit racing to claim many projects queues on its own row and
each claim counts what the previous one committed. Every path that locks both takes the unit first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.wishes import scope as sc
from services.wishes.clients import RegistryClient
from services.wishes.clock import now_utc
from services.wishes.errors import (
    ActionForbidden,
    ActionInvalid,
    NeedNotFound,
    NeedNotOpen,
    OutOfScope,
    ProjectLimitReached,
    ProjectNotClaimed,
    ProjectNotFound,
    ProjectNotOpen,
)
from services.wishes.models import CommunityNeed, MemberUnit, Project, ProjectProgress
from services.wishes.units.schemas import (
    NeedCreate,
    NeedUpdate,
    ProgressBody,
    ProjectClaimBody,
    ProjectCreate,
    ReviewBody,
)
from services.wishes.units.service import (
    Actor,
    ensure_manager,
    ensure_sees,
    known_area,
    page_of,
    related,
    relates,
)

HELD = ("claimed", "in_progress", "done")  # a unit holds the project
NEED_STAFF = ("grid_worker", *sc.AREA_MANAGERS)


# ---- needs (需求清单) ------------------------------------------------------------------------------------


async def need_views(session: AsyncSession, needs: Sequence[CommunityNeed]) -> list[dict[str, Any]]:
    names = await _unit_names(session, {n.unit_id for n in needs if n.unit_id})
    return [
        {
            **{c.key: getattr(n, c.key) for c in CommunityNeed.__table__.columns},
            "unit_name": names.get(n.unit_id),
        }
        for n in needs
    ]


async def _unit_names(session: AsyncSession, ids: set[int | None]) -> dict[int | None, str]:
    if not ids:
        return {}
    rows = await session.execute(select(MemberUnit.id, MemberUnit.name).where(MemberUnit.id.in_(ids)))
    return {i: n for i, n in rows}


async def list_needs(
    session: AsyncSession,
    actor: Actor,
    *,
    area_code: str | None,
    status: str | None,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[CommunityNeed], int]:
    conds = [actor.visible(CommunityNeed.area_code)]
    if area_code:
        ensure_sees(actor, area_code, "The area")
        conds.append(related(CommunityNeed.area_code, area_code))
    if status:
        conds.append(CommunityNeed.status == status)
    if category:
        conds.append(CommunityNeed.category == category)
    stmt = select(CommunityNeed).where(*conds).order_by(CommunityNeed.id.desc())
    rows, total = await page_of(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def _ensure_need_staff(actor: Actor, area_code: str, what: str) -> None:
    sc.require_role(actor.principal, NEED_STAFF, what)
    ensure_sees(actor, area_code, what)  # a grid worker writes for the community its grid is in


async def create_need(
    session: AsyncSession, actor: Actor, registry: RegistryClient, body: NeedCreate
) -> CommunityNeed:
    _ensure_need_staff(actor, body.area_code, "The needs list")
    await known_area(registry, body.area_code)
    need = CommunityNeed(
        area_code=body.area_code,
        category=body.category,
        title=body.title,
        description=body.description,
        source=body.source,
        households=body.households,
        status="open",
        created_by=actor.principal.sub,
    )
    session.add(need)
    await session.flush()
    return need


async def update_need(session: AsyncSession, actor: Actor, need_id: int, body: NeedUpdate) -> CommunityNeed:
    need = (
        await session.execute(
            select(CommunityNeed)
            .where(CommunityNeed.id == need_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if need is None:
        raise NeedNotFound(f"No need {need_id}.")
    ensure_sees(actor, need.area_code, f"Need {need_id}")
    changes = body.model_dump(exclude_unset=True)
    if actor.unit is not None:
        _take_up(actor.unit, need, changes)
    else:
        _ensure_need_staff(actor, need.area_code, f"Need {need_id}")
        await _staff_edit(session, need, changes)
    need.updated_at = now_utc()
    await session.flush()
    return need


def _take_up(unit: MemberUnit, need: CommunityNeed, changes: dict[str, Any]) -> None:
    """认领需求: a liaison takes up an open need of its committee's area for its own unit."""
    if set(changes) != {"unit_id"}:
        raise ActionForbidden(
            f'A unit liaison may only take up a need for its unit: send {{"unit_id": {unit.id}}} and nothing else.'
        )
    if changes["unit_id"] != unit.id:
        raise OutOfScope(f"You act for unit {unit.code} (id {unit.id}), not unit {changes['unit_id']}.")
    if not sc.unit_covers(unit, need.area_code):
        raise OutOfScope(
            f"Need {need.id} is in {need.area_code}, outside your committee's area {unit.area_code}."
        )
    if need.status != "open":
        by = f" by unit {need.unit_id}" if need.unit_id else ""
        raise NeedNotOpen(f"Need {need.id} is {need.status}{by}; only an open need can be taken up.")
    need.unit_id, need.status = unit.id, "matched"


async def _staff_edit(session: AsyncSession, need: CommunityNeed, changes: dict[str, Any]) -> None:
    status = changes.get("status", need.status)
    unit_id = changes["unit_id"] if "unit_id" in changes else need.unit_id
    if "unit_id" in changes and "status" not in changes:
        if unit_id is not None and need.status == "open":
            status = "matched"  # matching a unit is what moves an open need on
        elif unit_id is None and need.status == "matched":
            status = "open"
    if changes.get("status") == "open" and "unit_id" not in changes:
        unit_id = None  # reopened: nobody holds it
    if status == "open" and unit_id is not None:
        raise ActionInvalid(
            "An open need has no unit; send status matched with the unit_id, or leave status out."
        )
    if status == "matched" and unit_id is None:
        raise ActionInvalid("A matched need names the unit that took it up: send unit_id.")
    if unit_id is not None and unit_id != need.unit_id:
        unit = await session.get(MemberUnit, unit_id)
        if unit is None or not unit.active:
            raise ActionInvalid(f"No active member unit {unit_id}.")
        if not sc.unit_covers(unit, need.area_code):
            raise ActionInvalid(
                f"Unit {unit.code} belongs to the committee of {unit.area_code}; need {need.id} is in "
                f"{need.area_code}, so it cannot take it up."
            )
    for field in ("category", "title", "description", "source", "households"):
        if field in changes:
            setattr(need, field, changes[field])
    need.status, need.unit_id = status, unit_id


# ---- projects (项目清单) ---------------------------------------------------------------------------------


def _latest_percent() -> Any:
    # progress never goes down, so the highest report is the latest
    return (
        select(func.max(ProjectProgress.percent))
        .where(ProjectProgress.project_id == Project.id)
        .correlate(Project)
        .scalar_subquery()
    )


def _project_select() -> Select[Any]:
    return select(Project, MemberUnit.name, _latest_percent()).outerjoin(
        MemberUnit, MemberUnit.id == Project.unit_id
    )


def project_view(project: Project, unit_name: str | None, percent: int | None) -> dict[str, Any]:
    return {
        **{c.key: getattr(project, c.key) for c in Project.__table__.columns},
        "unit_name": unit_name,
        "percent": percent,
    }


async def list_projects(
    session: AsyncSession,
    actor: Actor,
    *,
    area_code: str | None,
    year: int | None,
    status: str | None,
    unit_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    conds = [actor.visible(Project.area_code)]
    if area_code:
        ensure_sees(actor, area_code, "The area")
        conds.append(related(Project.area_code, area_code))
    if year:
        conds.append(Project.year == year)
    if status:
        conds.append(Project.status == status)
    if unit_id:
        conds.append(Project.unit_id == unit_id)
    stmt = _project_select().where(*conds).order_by(Project.year.desc(), Project.area_code, Project.id)
    rows, total = await page_of(session, stmt, limit, offset)
    return [project_view(*r) for r in rows], total


async def project_detail(session: AsyncSession, actor: Actor, project_id: int) -> dict[str, Any]:
    row = (await session.execute(_project_select().where(Project.id == project_id))).first()
    if row is None:
        raise ProjectNotFound(f"No project {project_id}.")
    project = row[0]
    ensure_sees(actor, project.area_code, f"Project {project_id}")
    progress = await session.execute(
        select(ProjectProgress)
        .where(ProjectProgress.project_id == project.id)
        .order_by(ProjectProgress.quarter)
    )
    return {**project_view(*row), "progress": list(progress.scalars())}


async def create_project(
    session: AsyncSession, actor: Actor, registry: RegistryClient, body: ProjectCreate
) -> Project:
    ensure_manager(actor, body.area_code, "The project list")
    await known_area(registry, body.area_code)
    project = Project(
        area_code=body.area_code,
        year=body.year,
        title=body.title,
        description=body.description,
        category=body.category,
        budget=body.budget,
        status="open",
        created_by=actor.principal.sub,
    )
    session.add(project)
    await session.flush()
    return project


async def _locked_project(session: AsyncSession, project_id: int) -> Project:
    project = (
        await session.execute(
            select(Project)
            .where(Project.id == project_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if project is None:
        raise ProjectNotFound(f"No project {project_id}.")
    return project


async def claim_project(
    session: AsyncSession, actor: Actor, project_id: int, body: ProjectClaimBody, *, limit: int
) -> Project:
    """A unit takes an open project of an area related to its committee's, up to `limit` a year."""
    if actor.unit is not None:
        unit_id = actor.unit.id
        if body.unit_id not in (None, unit_id):
            raise OutOfScope(f"You act for unit {actor.unit.code} (id {unit_id}), not unit {body.unit_id}.")
    else:
        sc.require_role(actor.principal, (sc.LIAISON, *sc.AREA_MANAGERS), "Claiming a project")
        if body.unit_id is None:
            raise ActionInvalid("Name the unit that claims the project: unit_id.")
        unit_id = body.unit_id
    # the unit's row first: its claims queue here, so the count below sees every earlier one
    unit = (
        await session.execute(
            select(MemberUnit)
            .where(MemberUnit.id == unit_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if unit is None or not unit.active:
        raise ActionInvalid(f"No active member unit {unit_id}.")
    project = await _locked_project(session, project_id)
    if actor.unit is None:
        sc.ensure_area(actor.principal, project.area_code, f"Project {project_id}")
    if not relates(unit.area_code, project.area_code):
        raise OutOfScope(
            f"Unit {unit.code} belongs to the committee of {unit.area_code}; project {project_id} is in "
            f"{project.area_code}."
        )
    if project.status != "open":
        raise ProjectNotOpen(
            f"Project {project_id} is {project.status}; only an open project can be claimed."
        )
    held = (
        await session.execute(
            select(func.count())
            .select_from(Project)
            .where(Project.unit_id == unit.id, Project.year == project.year, Project.status != "dropped")
        )
    ).scalar_one()
    if held >= limit:
        raise ProjectLimitReached(
            f"Unit {unit.code} already holds {held} projects of {project.year}; a unit claims at most "
            f"{limit} a year."
        )
    project.unit_id, project.status, project.claimed_at = unit.id, "claimed", now_utc()
    await session.flush()
    return project


def _ensure_project_writer(actor: Actor, project: Project, what: str) -> None:
    if actor.unit is not None:
        if project.unit_id != actor.unit.id:
            raise OutOfScope(f"Project {project.id} is not held by your unit {actor.unit.code}.")
        return
    sc.require_role(actor.principal, (sc.LIAISON, *sc.AREA_MANAGERS), what)
    sc.ensure_area(actor.principal, project.area_code, what)


async def report_progress(
    session: AsyncSession, actor: Actor, project_id: int, quarter: int, body: ProgressBody
) -> Project:
    project = await _locked_project(session, project_id)
    _ensure_project_writer(actor, project, f"Progress of project {project_id}")
    if project.unit_id is None or project.status not in HELD:
        raise ProjectNotClaimed(
            f"Project {project_id} is {project.status}; progress is reported once a unit claims it."
        )
    reports = list(
        (
            await session.execute(select(ProjectProgress).where(ProjectProgress.project_id == project.id))
        ).scalars()
    )
    before = [r for r in reports if r.quarter < quarter and r.percent > body.percent]
    after = [r for r in reports if r.quarter > quarter and r.percent < body.percent]
    if before:
        r = max(before, key=lambda r: r.percent)
        raise ActionInvalid(
            f"Q{quarter} at {body.percent}% would go down from the {r.percent}% reported for Q{r.quarter}; "
            "progress never goes down."
        )
    if after:
        r = min(after, key=lambda r: r.percent)
        raise ActionInvalid(
            f"Q{quarter} at {body.percent}% would be more than the {r.percent}% already reported for the "
            f"later Q{r.quarter}; progress never goes down."
        )
    report = next((r for r in reports if r.quarter == quarter), None)
    if report is None:
        report = ProjectProgress(project_id=project.id, quarter=quarter)
        session.add(report)
        reports.append(report)
    report.percent, report.note = body.percent, body.note
    report.reported_by, report.reported_at = actor.principal.sub, now_utc()
    project.status = "done" if max(r.percent for r in reports) == 100 else "in_progress"
    await session.flush()
    return project


async def review_project(session: AsyncSession, actor: Actor, project_id: int, body: ReviewBody) -> Project:
    """项目评议: the community, street or district scores a project a unit holds (again, if need be)."""
    project = await _locked_project(session, project_id)
    ensure_manager(actor, project.area_code, f"Reviewing project {project_id}")
    if project.unit_id is None or project.status not in HELD:
        raise ProjectNotClaimed(
            f"Project {project_id} is {project.status}; only a claimed project is reviewed."
        )
    project.review_score, project.review_note = body.score, body.note
    project.reviewed_by, project.reviewed_at = actor.principal.sub, now_utc()
    await session.flush()
    return project
