"""Binding a WeChat account to a registry resident, and "my home" composed from the registry.

Binding proves identity with three things the registry holds: name, phone and the last four characters of
the identity number. One openid binds one resident and one resident one openid (the unique
`account.resident_id`, so two accounts racing for one resident cannot both win). Wrong details are counted
per account: after `bind_max_failures` the account is locked for `bind_lock_s`, right details or not.
Wrong details are also counted per network address, so one client cannot guess through many openids.
The account row is locked (`FOR UPDATE`) for the attempt, so parallel attempts of one account queue and the
count is exact.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.mobile import limits
from services.mobile.account.schemas import (
    AccountBrief,
    AreaBrief,
    BindingCreate,
    HouseholdBrief,
    MeRead,
    Neighbour,
    PersonBrief,
    TeamMember,
)
from services.mobile.clients.registry import AreaRef, CardStaff, CoveringPerson, IdentityMatch, RegistryClient
from services.mobile.errors import AlreadyBound, BindLocked, BindMismatch, TokenInvalid, TooManyRequests
from services.mobile.models import Account
from services.mobile.settings import MobileSettings

log = logging.getLogger("gridgov.mobile.binding")

# A shared network (a community centre's Wi-Fi, a carrier's NAT) has many residents, so only wrong
# attempts count here; right ones cost nothing.
BIND_FAILS_PER_IP = limits.Limit(
    "bind-fail:ip", 30, 3600, "wrong binding attempts an hour from one network address"
)

UNBOUND_MESSAGE = "尚未绑定住户，请先绑定：填写姓名、手机号和身份证号后4位。"
GONE_MESSAGE = "您绑定的住户信息已在社区登记中变更，请重新绑定。"


def mask_name(name: str) -> str:
    """张* for two characters, 张*英 for three, 欧阳**华 for longer."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


def _locked_for(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds()) + 1)


async def bind(
    session: AsyncSession,
    registry: RegistryClient,
    settings: MobileSettings,
    *,
    account_id: int,
    body: BindingCreate,
    ip: str,
) -> tuple[IdentityMatch, datetime]:
    acc = (
        await session.execute(select(Account).where(Account.id == account_id).with_for_update())
    ).scalar_one()
    now = datetime.now(UTC)
    if acc.resident_id is not None:
        raise AlreadyBound(
            "This WeChat account is already bound to a household; unbind it first (DELETE /m/v1/me/binding).",
            message="您已绑定住户，如需更换请先解除绑定。",
        )
    if acc.bind_locked_until is not None and acc.bind_locked_until > now:
        wait = _locked_for(acc.bind_locked_until, now)
        raise BindLocked(
            f"Too many wrong attempts: binding is locked for {_minutes(wait)} more minute(s). "
            "Check your details with your community (社区居委会) meanwhile.",
            retry_after=wait,
            locked_until=acc.bind_locked_until.isoformat(),
            message=f"错误次数过多，请{_minutes(wait)}分钟后再试。",
        )
    if await limits.used(session, BIND_FAILS_PER_IP, ip, now=now) >= BIND_FAILS_PER_IP.max_hits:
        _, end = limits.window(now, BIND_FAILS_PER_IP.window_s)
        raise TooManyRequests(
            f"Too many wrong binding attempts from this network; try again in {_locked_for(end, now)} s.",
            retry_after=_locked_for(end, now),
            message="当前网络尝试次数过多，请稍后再试。",
        )

    match = await registry.identity_check(name=body.name, phone=body.phone, id_last4=body.id_last4)

    if match is None:
        try:
            await limits.hit(session, BIND_FAILS_PER_IP, ip, now=now)
        except TooManyRequests:
            pass  # the window filled meanwhile: the next attempt from here is refused before it starts
        failures = acc.bind_failures + 1
        if failures >= settings.bind_max_failures:
            acc.bind_failures = 0
            acc.bind_locked_until = now + timedelta(seconds=settings.bind_lock_s)
            log.info("binding locked", extra={"account_id": acc.id})
            raise BindLocked(
                f"These details match no resident. That was wrong attempt {failures} of "
                f"{settings.bind_max_failures}: binding is locked for {_minutes(settings.bind_lock_s)} minute(s).",
                retry_after=settings.bind_lock_s,
                locked_until=acc.bind_locked_until.isoformat(),
                message=f"信息不匹配，错误次数过多，请{_minutes(settings.bind_lock_s)}分钟后再试。",
                keep_changes=True,
            )
        acc.bind_failures = failures
        left = settings.bind_max_failures - failures
        raise BindMismatch(
            "These details match no resident: check your name, the mobile number registered with your "
            f"household and the last 4 characters of your identity number. {left} attempt(s) left.",
            remaining_attempts=left,
            message=f"姓名、手机号或身份证号后4位与社区登记信息不符，还可尝试{left}次。",
            keep_changes=True,
        )

    try:
        async with session.begin_nested():
            await session.execute(
                update(Account)
                .where(Account.id == acc.id)
                .values(
                    resident_id=match.resident_id,
                    household_id=match.household_id,
                    area_code=match.area_code,
                    bound_at=now,
                    bind_failures=0,
                    bind_locked_until=None,
                )
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        raise AlreadyBound(
            "This resident is already bound to another WeChat account. If that is not you, ask your "
            "community (社区居委会) to release it.",
            message="该住户已被其他微信账号绑定，如非本人操作请联系社区居委会。",
        ) from None
    await session.refresh(acc)
    return match, now


async def unbind(session: AsyncSession, account_id: int) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(resident_id=None, household_id=None, area_code=None, bound_at=None)
        .execution_options(synchronize_session=False)
    )


def _area(a: AreaRef | None) -> AreaBrief | None:
    return AreaBrief(code=a.code, name=a.name) if a else None


def _member(s: CardStaff) -> TeamMember:
    return TeamMember(
        name=s.name,
        role=s.role,
        role_label=s.role_label,
        phone=s.phone,
        callable=bool(s.phone) and "*" not in (s.phone or ""),
    )


def _neighbour(p: CoveringPerson | None) -> Neighbour | None:
    return Neighbour(name=p.name, phone=p.phone) if p else None


async def home(
    session: AsyncSession, registry: RegistryClient, settings: MobileSettings, account_id: int
) -> MeRead:
    """Me and my home. Three registry reads one after another: the resident (their current household;
    a move or a deletion in the registry is followed here), the household's coverage, the grid card."""
    acc = await session.get(Account, account_id)
    if acc is None:  # the token outlived its account
        raise TokenInvalid("This account no longer exists: log in again.")
    if acc.resident_id is None:
        return MeRead(
            bound=False,
            message=UNBOUND_MESSAGE,
            account=AccountBrief(
                id=acc.id,
                created_at=acc.created_at,
                bind_attempts_left=settings.bind_max_failures - acc.bind_failures,
                bind_locked_until=acc.bind_locked_until
                if acc.bind_locked_until and acc.bind_locked_until > datetime.now(UTC)
                else None,
            ),
        )
    resident = await registry.resident(acc.resident_id)
    if resident is None:
        await unbind(session, acc.id)
        await session.refresh(acc)
        return MeRead(
            bound=False,
            message=GONE_MESSAGE,
            account=AccountBrief(
                id=acc.id, created_at=acc.created_at, bind_attempts_left=settings.bind_max_failures
            ),
        )
    if resident.household_id != acc.household_id or resident.area_code != acc.area_code:
        acc.household_id, acc.area_code = resident.household_id, resident.area_code
        await session.flush()
    cov = await registry.coverage(resident.household_id)
    card = await registry.grid_card(cov.grid.id) if cov and cov.grid else None
    staff = card.staff if card else (cov.grid_staff if cov else [])
    return MeRead(
        bound=True,
        account=AccountBrief(id=acc.id, created_at=acc.created_at, bound_at=acc.bound_at),
        me=PersonBrief(name=mask_name(resident.name)),
        household=HouseholdBrief(id=resident.household_id, address=cov.household.address if cov else ""),
        micro_grid=_area(cov.micro_grid) if cov else None,
        grid=_area(cov.grid) if cov else None,
        community=_area(cov.community) if cov else None,
        street=_area(card.street) if card else None,
        grid_team=[_member(s) for s in staff],
        party_central=_neighbour(cov.party_central) if cov else None,
        representative=_neighbour(cov.representative) if cov else None,
    )
