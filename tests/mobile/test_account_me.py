"""GET /m/v1/me: before binding, and my home composed from the registry's household coverage and grid card."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, select, update

from services.mobile.account.binding import mask_name
from services.mobile.models import Account
from services.registry.models import GridStaff, HouseholdLink, Resident
from tests.mobile.account_helpers import bound_resident, login
from tests.mobile.test_account_binding import registry_failing

PROBLEM = "https://gridgov.example.org/problems/"


@pytest.fixture
async def team(session, world):
    """The team of the world's first grid: one service phone, one personal mobile only."""
    grid = world.grids[0]
    session.add_all(
        [
            GridStaff(
                grid_id=grid.id,
                name="王芳",
                role="grid_chief",
                service_phone="0519-85101234",
                personal_phone="13900001234",
            ),
            GridStaff(
                grid_id=grid.id,
                name="李强",
                role="full_time",
                service_phone=None,
                personal_phone="13812345678",
            ),
        ]
    )
    await session.commit()


@pytest.fixture
async def neighbours(session, world):
    """Household 0 is covered by resident 4 as party-member central household and resident 6 as its
    representative."""
    h = world.households[0]
    session.add_all(
        [
            HouseholdLink(kind="party_central", household_id=h.id, resident_id=world.residents[4].id),
            HouseholdLink(kind="representative", household_id=h.id, resident_id=world.residents[6].id),
        ]
    )
    await session.commit()


class TestBeforeBinding:
    async def test_unbound_says_so_and_what_to_do(self, mobile):
        tok = await login(mobile)
        r = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"bound", "message", "account"}
        assert body["bound"] is False and body["message"].startswith("尚未绑定住户")
        assert body["account"]["bind_attempts_left"] == 5 and "bind_locked_until" not in body["account"]


class TestMyHome:
    async def test_my_home_names_my_household_areas_team_and_neighbours(
        self, mobile, world, team, neighbours
    ):
        tok = await bound_resident(mobile, world, i=0)
        r = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert r.status_code == 200, r.text
        me = r.json()
        res, hh = world.residents[0], world.households[0]
        assert me["bound"] is True and "message" not in me
        assert me["me"] == {"name": mask_name(res.name)} and res.name not in r.text
        assert me["household"]["id"] == hh.id and me["household"]["address"].startswith(
            "新北区三井街道龙锦社区"
        )
        assert me["micro_grid"] == {"code": world.micro[0].code, "name": world.micro[0].name}
        assert me["grid"] == {"code": "320411001001001", "name": "龙锦第1网格"}
        assert me["community"] == {"code": "320411001001", "name": "龙锦社区"}
        assert me["street"] == {"code": "320411001", "name": "三井街道"}
        assert me["grid_team"] == [
            {
                "name": "王芳",
                "role": "grid_chief",
                "role_label": "网格长",
                "phone": "0519-85101234",
                "callable": True,
            },
            {
                "name": "李强",
                "role": "full_time",
                "role_label": "专职网格员",
                "phone": "138****5678",
                "callable": False,
            },
        ]
        assert me["party_central"] == {
            "name": world.residents[4].name,
            "phone": f"{world.residents[4].phone[:3]}****{world.residents[4].phone[-4:]}",
        }
        assert me["representative"]["name"] == world.residents[6].name
        assert me["account"]["bound_at"] and "bind_attempts_left" not in me["account"]

    async def test_personal_mobiles_never_appear_in_full(self, mobile, world, team, neighbours):
        tok = await bound_resident(mobile, world, i=0)
        text = (await mobile.get("/m/v1/me", headers=tok["headers"])).text
        for number in (
            "13900001234",
            "13812345678",
            world.residents[4].phone,
            world.residents[6].phone,
            world.residents[0].phone,
        ):
            assert number not in text

    async def test_the_answer_is_small(self, mobile, world, team, neighbours):
        tok = await bound_resident(mobile, world, i=0)
        r = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert len(r.content) < 1500

    async def test_no_team_and_no_neighbours_are_left_out_or_empty(self, mobile, world):
        tok = await bound_resident(mobile, world, i=0)
        me = (await mobile.get("/m/v1/me", headers=tok["headers"])).json()
        assert me["grid_team"] == [] and "party_central" not in me and "representative" not in me

    async def test_a_move_in_the_registry_is_followed(self, mobile, world, session):
        tok = await bound_resident(mobile, world, i=0)
        target = world.households[-1]  # in the other street
        await session.execute(
            update(Resident)
            .where(Resident.id == world.residents[0].id)
            .values(household_id=target.id, area_code=target.area_code)
        )
        await session.commit()
        me = (await mobile.get("/m/v1/me", headers=tok["headers"])).json()
        assert me["household"]["id"] == target.id and me["street"]["name"] == "河海街道"
        acc = (await session.execute(select(Account).execution_options(populate_existing=True))).scalar_one()
        assert (acc.household_id, acc.area_code) == (target.id, target.area_code)

    async def test_a_resident_removed_from_the_registry_releases_the_binding(self, mobile, world, session):
        tok = await bound_resident(mobile, world, i=0)
        await session.execute(delete(Resident).where(Resident.id == world.residents[0].id))
        await session.commit()
        me = (await mobile.get("/m/v1/me", headers=tok["headers"])).json()
        assert me["bound"] is False and "重新绑定" in me["message"]
        acc = (await session.execute(select(Account).execution_options(populate_existing=True))).scalar_one()
        assert acc.resident_id is None


class TestRegistryFailures:
    @pytest.mark.parametrize(
        ("exc", "status"),
        [(httpx.ConnectError("refused"), None), (httpx.ReadTimeout("slow"), None), (None, 502)],
        ids=["down", "timeout", "502"],
    )
    async def test_a_registry_that_cannot_answer_is_503_naming_it(
        self, mobile, mobile_app, world, exc, status
    ):
        tok = await bound_resident(mobile, world, i=0)
        registry_failing(mobile_app, exc, status)
        r = await mobile.get("/m/v1/me", headers=tok["headers"])
        assert r.status_code == 503
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["upstream"] == "registry" and "registry" in r.json()["detail"]

    async def test_unbound_me_does_not_need_the_registry(self, mobile, mobile_app):
        tok = await login(mobile)
        registry_failing(mobile_app, httpx.ConnectError("refused"))
        assert (await mobile.get("/m/v1/me", headers=tok["headers"])).status_code == 200


@pytest.mark.parametrize(
    ("name", "masked"), [("张三", "张*"), ("张秀英", "张*英"), ("欧阳娜娜", "欧**娜"), ("李", "李")]
)
def test_names_are_masked_keeping_the_first_and_last_character(name, masked):
    assert mask_name(name) == masked
