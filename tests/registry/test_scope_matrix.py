"""Role × resource matrix: scope is enforced on every read and write."""

from __future__ import annotations

import pytest

# Principals: (role, scope...). The world: grid 1 and 2 in community 320411001001 (street 320411001);
# grid 3 in community 320411002001 (street 320411002).
DISTRICT = ("district_admin", "320411")
STREET = ("street_dispatcher", "320411001")
COMMUNITY = ("community_admin", "320411001001")
GRID1 = ("grid_worker", "320411001001001")
DEPT = ("department_handler", "CGJ")
UNIT = ("unit_liaison", "MU001")
INTEGRATION = ("integration", "12345")
SERVICE = ("service", "dispatch")


def _resident_in(world, grid_index):
    code = world.grids[grid_index].code
    return next(r for r in world.residents if r.area_code.startswith(code))


READ_RESIDENT = [
    # who, resident in grid (0 = grid 1, 1 = grid 2, 2 = grid 3), expected status
    (DISTRICT, 2, 200),
    (STREET, 1, 200),
    (STREET, 2, 403),
    (COMMUNITY, 1, 200),
    (COMMUNITY, 2, 403),
    (GRID1, 0, 200),
    (GRID1, 1, 403),
    (DEPT, 2, 200),
    (UNIT, 0, 403),
    (INTEGRATION, 0, 403),
    (SERVICE, 2, 200),
]


@pytest.mark.parametrize(
    "who,grid,status", READ_RESIDENT, ids=[f"{w[0]}-g{g + 1}" for w, g, _ in READ_RESIDENT]
)
async def test_read_one_resident(registry, world, token, who, grid, status):
    r = await registry.get(f"/api/v1/residents/{_resident_in(world, grid).id}", headers=token(*who))
    assert r.status_code == status, r.text
    if status == 403:
        assert r.headers["content-type"] == "application/problem+json"


LIST_RESIDENTS = [(DISTRICT, 24), (STREET, 16), (COMMUNITY, 16), (GRID1, 8), (DEPT, 24), (SERVICE, 24)]


@pytest.mark.parametrize("who,count", LIST_RESIDENTS, ids=[w[0] for w, _ in LIST_RESIDENTS])
async def test_resident_lists_are_cut_to_scope(registry, world, token, who, count):
    r = await registry.get("/api/v1/residents", params={"limit": 100}, headers=token(*who))
    assert r.status_code == 200
    assert r.json()["total"] == count
    assert all("*" in x["id_number"] for x in r.json()["items"])


@pytest.mark.parametrize("who", [UNIT, INTEGRATION], ids=lambda w: w[0])
async def test_roles_without_people_access_cannot_list_residents(registry, world, token, who):
    assert (await registry.get("/api/v1/residents", headers=token(*who))).status_code == 403


REVEAL = [(DISTRICT, 200), (COMMUNITY, 200), (GRID1, 200), (STREET, 403), (DEPT, 403), (SERVICE, 403)]


@pytest.mark.parametrize("who,status", REVEAL, ids=[w[0] for w, _ in REVEAL])
async def test_full_identity_numbers_only_for_roles_that_need_them(registry, world, token, who, status):
    resident = _resident_in(world, 0)
    r = await registry.get(f"/api/v1/residents/{resident.id}", params={"reveal": "true"}, headers=token(*who))
    assert r.status_code == status
    if status == 200:
        assert r.json()["id_number"] == world.numbers[world.residents.index(resident)]
    plain = await registry.get(f"/api/v1/residents/{resident.id}", headers=token(*who))
    if plain.status_code == 200:
        assert plain.json()["id_number"].count("*") == 10


async def test_department_handler_never_sees_an_identity_number(registry, world, token):
    dept = token(*DEPT)
    listing = await registry.get("/api/v1/residents", params={"limit": 100}, headers=dept)
    for item in listing.json()["items"]:
        assert item["id_number"][4:14] == "*" * 10
        assert "****" in (item["phone"] or "****")
    r = await registry.post(
        "/api/v1/residents/lookup",
        params={"reveal": "true"},
        json={"id_number": world.numbers[0]},
        headers=dept,
    )
    assert r.status_code == 403
    export = await registry.get("/api/v1/exports/residents", params={"area_code": "320411"}, headers=dept)
    assert export.status_code == 403


# Buildings: one per micro-grid; 0–1 in grid 1, 2–3 in grid 2, 4–5 in grid 3 (the other street).
WRITE_HOUSEHOLD = [
    (DISTRICT, 4, 201),
    (STREET, 2, 201),
    (STREET, 4, 403),
    (COMMUNITY, 0, 201),
    (COMMUNITY, 4, 403),
    (GRID1, 1, 201),
    (GRID1, 2, 403),
    (DEPT, 0, 403),
    (UNIT, 0, 403),
    (INTEGRATION, 0, 403),
]


@pytest.mark.parametrize("who,b,status", WRITE_HOUSEHOLD, ids=[f"{w[0]}-b{b}" for w, b, _ in WRITE_HOUSEHOLD])
async def test_register_a_household(registry, world, token, who, b, status):
    building = world.buildings[b]
    r = await registry.post(
        "/api/v1/households",
        headers=token(*who),
        json={"building_id": building.id, "unit_no": "2", "room_no": "901"},
    )
    assert r.status_code == status, r.text


EDIT_GRID = [
    (DISTRICT, 2, 200),
    (STREET, 1, 200),
    (STREET, 2, 403),
    (COMMUNITY, 1, 200),
    (COMMUNITY, 2, 403),
    (GRID1, 0, 403),
    (DEPT, 0, 403),
    (SERVICE, 0, 403),
]


@pytest.mark.parametrize("who,grid,status", EDIT_GRID, ids=[f"{w[0]}-g{g + 1}" for w, g, _ in EDIT_GRID])
async def test_edit_a_grid(registry, world, token, who, grid, status):
    r = await registry.patch(
        f"/api/v1/grids/{world.grids[grid].id}", headers=token(*who), json={"management_type": "focus"}
    )
    assert r.status_code == status, r.text


GRID_LIST = [(DISTRICT, 3), (STREET, 2), (COMMUNITY, 2), (GRID1, 1), (DEPT, 3), (UNIT, 3)]


@pytest.mark.parametrize("who,count", GRID_LIST, ids=[w[0] for w, _ in GRID_LIST])
async def test_grid_lists_are_cut_to_scope(registry, world, token, who, count):
    r = await registry.get("/api/v1/grids", headers=token(*who))
    assert r.status_code == 200
    assert r.json()["total"] == count


async def test_grid_worker_reads_its_ancestors_but_not_its_neighbours(registry, world, token):
    gw = token(*GRID1)
    assert (await registry.get(f"/api/v1/areas/{world.communities[0].id}", headers=gw)).status_code == 200
    assert (await registry.get(f"/api/v1/grids/{world.grids[1].id}", headers=gw)).status_code == 403


STATS = [(DISTRICT, 1, 200), (COMMUNITY, 0, 200), (COMMUNITY, 1, 403), (STREET, 1, 403), (DEPT, 0, 403)]


@pytest.mark.parametrize("who,community,status", STATS, ids=[f"{w[0]}-c{c}" for w, c, _ in STATS])
async def test_statistics_in_scope(registry, world, token, who, community, status):
    r = await registry.get(f"/api/v1/areas/{world.communities[community].id}/stats", headers=token(*who))
    assert r.status_code == status


async def test_a_grid_worker_with_two_grids_sees_both(registry, world, token):
    gw = token("grid_worker", world.grids[0].code, world.grids[1].code)
    r = await registry.get("/api/v1/residents", params={"limit": 100}, headers=gw)
    assert r.json()["total"] == 16


async def test_identity_check_is_for_the_mobile_service_only(registry, world, token):
    resident = world.residents[0]
    body = {"name": resident.name, "phone": resident.phone, "id_last4": world.numbers[0][-4:]}
    assert (
        await registry.post("/api/v1/residents/identity-check", json=body, headers=token(*DISTRICT))
    ).status_code == 403
    r = await registry.post("/api/v1/residents/identity-check", json=body, headers=token(*SERVICE))
    assert r.status_code == 200
    assert r.json()["resident_id"] == resident.id
    wrong = {**body, "id_last4": "0000" if world.numbers[0][-4:] != "0000" else "1111"}
    assert (
        await registry.post("/api/v1/residents/identity-check", json=wrong, headers=token(*SERVICE))
    ).status_code == 404
