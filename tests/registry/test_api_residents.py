from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from services.registry.crypto import id_check_digit, parse_id_number
from services.registry.models import PiiAccess, Resident
from tests.registry.builders import id_number

ADMIN = ("district_admin", "320411")
GRID1 = ("grid_worker", "320411001001001")


def _new(world, **kw):
    body = {
        "household_id": world.households[0].id,
        "name": "李四",
        "id_number": id_number(date(1990, 3, 7), 901),
        "phone": "13912345678",
        "relation": "子女",
        "tags": ["志愿者"],
    }
    body.update(kw)
    return body


class TestIdentityNumbers:
    def test_check_digit_follows_gb_11643(self):
        # the standard's worked example: 11010519491231002X
        assert id_check_digit("11010519491231002") == "X"
        number, born, gender = parse_id_number("11010519491231002x")
        assert number == "11010519491231002X" and born == date(1949, 12, 31) and gender == "F"

    async def test_wrong_check_digit_says_which_digit_is_right(self, registry, world, token):
        good = id_number(date(1990, 3, 7), 901)
        bad = good[:17] + ("0" if good[17] != "0" else "1")
        r = await registry.post("/api/v1/residents", headers=token(*ADMIN), json=_new(world, id_number=bad))
        assert r.status_code == 422
        err = r.json()["errors"][0]
        assert err["loc"] == ["body", "id_number"]
        assert f"check digit for these 17 digits is {good[17]}" in err["msg"]

    async def test_impossible_birth_date_is_refused(self, registry, world, token):
        first17 = "32041119901340901"
        r = await registry.post(
            "/api/v1/residents",
            headers=token(*ADMIN),
            json=_new(world, id_number=first17 + id_check_digit(first17)),
        )
        assert r.status_code == 422
        assert "birth date" in r.json()["errors"][0]["msg"]

    async def test_number_is_never_stored_in_clear(self, registry, world, token, session):
        body = _new(world)
        r = await registry.post("/api/v1/residents", headers=token(*ADMIN), json=body)
        assert r.status_code == 201, r.text
        row = (await session.execute(select(Resident).where(Resident.id == r.json()["id"]))).scalar_one()
        stored = " ".join(str(v) for v in (row.id_cipher, row.id_masked, row.id_hash.hex()))
        assert body["id_number"] not in stored
        assert body["id_number"][6:14] not in stored  # not even the birth date part
        assert row.gender == "M" and row.birth_date == date(1990, 3, 7)

    async def test_same_number_twice_is_409_naming_the_resident(self, registry, world, token):
        r = await registry.post(
            "/api/v1/residents", headers=token(*ADMIN), json=_new(world, id_number=world.numbers[0])
        )
        assert r.status_code == 409
        assert r.json()["resident_id"] == world.residents[0].id


class TestResidents:
    async def test_created_resident_is_returned_masked(self, registry, world, token):
        r = await registry.post("/api/v1/residents", headers=token(*GRID1), json=_new(world))
        body = r.json()
        assert body["id_number"].startswith("3204") and body["id_number"].count("*") == 10
        assert body["phone"] == "139****5678"
        assert body["age"] >= 35

    async def test_bad_phone_and_nul_and_unknown_tag_are_each_reported(self, registry, world, token):
        r = await registry.post(
            "/api/v1/residents",
            headers=token(*ADMIN),
            json=_new(world, phone="12345", name="张\x00三", tags=["外星人"]),
        )
        assert r.status_code == 422
        locs = {tuple(e["loc"]) for e in r.json()["errors"]}
        assert {("body", "phone"), ("body", "name"), ("body", "tags", 0)} <= locs

    async def test_lookup_by_number_is_a_post_and_reveal_is_recorded(self, registry, world, token, session):
        r = await registry.post(
            "/api/v1/residents/lookup",
            params={"reveal": "true"},
            json={"id_number": world.numbers[3]},
            headers=token(*GRID1),
        )
        assert r.status_code == 200
        assert r.json()["id_number"] == world.numbers[3]
        n = (
            await session.execute(
                select(func.count())
                .select_from(PiiAccess)
                .where(PiiAccess.actor == "t-grid_worker", PiiAccess.resident_id == world.residents[3].id)
            )
        ).scalar_one()
        assert n == 1

    async def test_lookup_outside_scope_is_404(self, registry, world, token):
        r = await registry.post(
            "/api/v1/residents/lookup", json={"id_number": world.numbers[-1]}, headers=token(*GRID1)
        )
        assert r.status_code == 404

    async def test_home_service_list_by_tag(self, registry, world, token):
        r = await registry.get(
            "/api/v1/residents", params={"tag": "独居老人", "limit": 100}, headers=token(*ADMIN)
        )
        expected = sum(1 for x in world.residents if "独居老人" in x.tags)
        assert r.json()["total"] == expected > 0
        assert all("独居老人" in x["tags"] for x in r.json()["items"])

    async def test_moving_keeps_history(self, registry, world, token):
        resident = world.residents[0]
        target = world.households[1]
        r = await registry.post(
            f"/api/v1/residents/{resident.id}/move",
            headers=token(*ADMIN),
            json={"to_household_id": target.id, "reason": "搬家"},
        )
        assert r.status_code == 201, r.text
        detail = (await registry.get(f"/api/v1/residents/{resident.id}", headers=token(*ADMIN))).json()
        assert detail["household_id"] == target.id
        assert detail["moves"][0]["from_household_id"] == world.households[0].id
        assert detail["moves"][0]["moved_by"] == "t-district_admin"
        r = await registry.post(
            f"/api/v1/residents/{resident.id}/move",
            headers=token(*ADMIN),
            json={"to_household_id": target.id},
        )
        assert r.status_code == 409

    async def test_moving_to_another_grid_follows_the_scope(self, registry, world, token):
        resident = world.residents[0]
        far = world.households[-1]  # grid 3
        r = await registry.post(
            f"/api/v1/residents/{resident.id}/move", headers=token(*ADMIN), json={"to_household_id": far.id}
        )
        assert r.status_code == 201
        assert (
            await registry.get(f"/api/v1/residents/{resident.id}", headers=token(*GRID1))
        ).status_code == 403

    async def test_unknown_household_is_404(self, registry, world, token):
        r = await registry.post(
            "/api/v1/residents", headers=token(*ADMIN), json=_new(world, household_id=999999)
        )
        assert r.status_code == 404

    async def test_ids_out_of_range_are_422_not_500(self, registry, world, token):
        r = await registry.get("/api/v1/residents/99999999999", headers=token(*ADMIN))
        assert r.status_code == 422


class TestHouseholdsAndBuildings:
    async def test_household_address_and_count(self, registry, world, token):
        h = world.households[0]
        r = await registry.get(f"/api/v1/households/{h.id}", headers=token(*ADMIN))
        body = r.json()
        assert body["resident_count"] == 2
        assert body["address"].endswith("1单元101室")

    async def test_same_room_twice_is_409(self, registry, world, token):
        h = world.households[0]
        r = await registry.post(
            "/api/v1/households",
            headers=token(*ADMIN),
            json={"building_id": h.building_id, "unit_no": h.unit_no, "room_no": h.room_no},
        )
        assert r.status_code == 409

    async def test_moving_a_building_moves_its_people(self, registry, world, token, session):
        b = world.buildings[0]
        r = await registry.patch(
            f"/api/v1/buildings/{b.id}", headers=token(*ADMIN), json={"micro_grid_id": world.micro[1].id}
        )
        assert r.status_code == 200
        codes = set(
            (
                await session.execute(
                    select(Resident.area_code).where(
                        Resident.household_id.in_([h.id for h in world.households if h.building_id == b.id])
                    )
                )
            ).scalars()
        )
        assert codes == {world.micro[1].code}


class TestPartyAndCoverage:
    async def test_who_covers_a_household(self, registry, world, token):
        admin = token(*ADMIN)
        c = world.communities[0]
        committee = (
            await registry.post(
                "/api/v1/party-orgs",
                headers=admin,
                json={"kind": "committee", "name": "龙锦社区党委", "community_id": c.id},
            )
        ).json()
        branch = (
            await registry.post(
                "/api/v1/party-orgs",
                headers=admin,
                json={
                    "kind": "branch",
                    "name": "第一支部",
                    "parent_id": committee["id"],
                    "community_id": c.id,
                },
            )
        ).json()
        group = await registry.post(
            "/api/v1/party-orgs",
            headers=admin,
            json={"kind": "group", "name": "1幢党小组", "parent_id": branch["id"], "community_id": c.id},
        )
        assert group.status_code == 201
        member = world.residents[2]
        await registry.patch(f"/api/v1/residents/{member.id}", headers=admin, json={"tags": ["党员"]})
        targets = [h.id for h in world.households if h.area_code.startswith(c.code)]
        r = await registry.put(
            "/api/v1/household-coverage",
            headers=admin,
            json={
                "kind": "party_central",
                "resident_id": member.id,
                "party_org_id": group.json()["id"],
                "household_ids": targets,
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["warnings"]  # 8 households is below the 20–30 norm: a warning, not a refusal
        rep = world.residents[4]
        r = await registry.put(
            "/api/v1/household-coverage",
            headers=admin,
            json={"kind": "representative", "resident_id": rep.id, "household_ids": targets[:3]},
        )
        assert r.status_code == 200
        cov = (await registry.get(f"/api/v1/households/{targets[0]}/coverage", headers=admin)).json()
        assert cov["party_central"]["resident_id"] == member.id
        assert cov["representative"]["resident_id"] == rep.id
        assert cov["party_group"]["name"] == "1幢党小组"
        assert cov["grid"]["code"] == world.grids[0].code
        assert "*" in (cov["party_central"]["phone"] or "*")

    async def test_central_household_must_be_a_party_member(self, registry, world, token):
        plain = next(r for r in world.residents if "党员" not in r.tags)
        r = await registry.put(
            "/api/v1/household-coverage",
            headers=token(*ADMIN),
            json={
                "kind": "party_central",
                "resident_id": plain.id,
                "household_ids": [world.households[0].id],
            },
        )
        assert r.status_code == 422

    async def test_more_than_the_maximum_is_refused(self, registry, world, token, session):
        from services.registry.models import Household

        b = world.buildings[0]
        extra = [
            Household(
                code=f"{b.code}-8-{i}", building_id=b.id, area_code=b.area_code, unit_no="8", room_no=str(i)
            )
            for i in range(16)
        ]
        session.add_all(extra)
        await session.commit()
        r = await registry.put(
            "/api/v1/household-coverage",
            headers=token(*ADMIN),
            json={
                "kind": "representative",
                "resident_id": world.residents[0].id,
                "household_ids": [h.id for h in extra],
            },
        )
        assert r.status_code == 422
        assert "at most 15" in r.json()["detail"]

    async def test_households_of_another_community_are_refused(self, registry, world, token):
        r = await registry.put(
            "/api/v1/household-coverage",
            headers=token(*ADMIN),
            json={
                "kind": "representative",
                "resident_id": world.residents[0].id,
                "household_ids": [world.households[-1].id],
            },
        )
        assert r.status_code == 422


class TestGridCard:
    async def test_card_masks_personal_mobiles_and_shows_service_phones(self, registry, world, token):
        admin = token(*ADMIN)
        g = world.grids[0]
        for body in (
            {
                "name": "张网格长",
                "role": "grid_chief",
                "service_phone": "0519-85551234",
                "personal_phone": "13812341234",
            },
            {"name": "李网格员", "role": "full_time", "personal_phone": "13812345678"},
            {"name": "王警官", "role": "police", "service_phone": "0519-85550110"},
        ):
            assert (
                await registry.post(f"/api/v1/grids/{g.id}/staff", headers=admin, json=body)
            ).status_code == 201
        card = (
            await registry.get(f"/api/v1/grids/{g.id}/card", headers=token("unit_liaison", "MU001"))
        ).json()
        phones = {s["name"]: s["phone"] for s in card["staff"]}
        assert phones == {"张网格长": "0519-85551234", "李网格员": "138****5678", "王警官": "0519-85550110"}
        assert [s["role_label"] for s in card["staff"]] == ["网格长", "专职网格员", "警员"]
        assert card["households"] == 4 and card["community"]["name"] == "龙锦社区"
        assert "13812345678" not in str(card)
        staff = (await registry.get(f"/api/v1/grids/{g.id}/staff", headers=admin)).json()
        assert "13812345678" in [s["personal_phone"] for s in staff]

    async def test_unknown_staff_role_is_422(self, registry, world, token):
        r = await registry.post(
            f"/api/v1/grids/{world.grids[0].id}/staff",
            headers=token(*ADMIN),
            json={"name": "某", "role": "boss"},
        )
        assert r.status_code == 422


class TestDeletion:
    async def test_household_with_residents_cannot_be_deleted(self, registry, world, token):
        r = await registry.delete(f"/api/v1/households/{world.households[0].id}", headers=token(*ADMIN))
        assert r.status_code == 409

    async def test_emptied_household_keeps_move_history(self, registry, world, token):
        h = world.households[0]
        for res in [x for x in world.residents if x.household_id == h.id]:
            r = await registry.post(
                f"/api/v1/residents/{res.id}/move",
                headers=token(*ADMIN),
                json={"to_household_id": world.households[1].id},
            )
            assert r.status_code == 201
        r = await registry.delete(f"/api/v1/households/{h.id}", headers=token(*ADMIN))
        assert r.status_code == 409
        assert "move history" in r.json()["detail"]

    async def test_empty_household_and_building_are_deleted(self, registry, world, token):
        admin = token(*ADMIN)
        b = (
            await registry.post(
                "/api/v1/buildings",
                headers=admin,
                json={"micro_grid_id": world.micro[0].id, "name": "临时楼", "address": "测试路1号临时楼"},
            )
        ).json()
        h = (
            await registry.post(
                "/api/v1/households", headers=admin, json={"building_id": b["id"], "room_no": "101"}
            )
        ).json()
        assert (await registry.delete(f"/api/v1/buildings/{b['id']}", headers=admin)).status_code == 409
        assert (await registry.delete(f"/api/v1/households/{h['id']}", headers=admin)).status_code == 204
        assert (await registry.delete(f"/api/v1/buildings/{b['id']}", headers=admin)).status_code == 204
        assert (await registry.get(f"/api/v1/buildings/{b['id']}", headers=admin)).status_code == 404

    async def test_deregistering_a_resident(self, registry, world, token):
        res = world.residents[0]
        assert (
            await registry.delete(
                f"/api/v1/residents/{res.id}", headers=token("street_dispatcher", "320411001")
            )
        ).status_code == 403
        assert (
            await registry.delete(f"/api/v1/residents/{res.id}", headers=token(*GRID1))
        ).status_code == 204
        assert (await registry.get(f"/api/v1/residents/{res.id}", headers=token(*ADMIN))).status_code == 404
