"""随手拍: filing a report with photos through mobile into the real dispatch (and registry), in process.

Also the bad inputs a mini-program sends: a 6 MB photo, a text file named .jpg, ten photos, the
coordinates of another city, an unbound account; and the limits (per resident, per IP)."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select, text

from services.mobile.models import Photo, RateCounter, Report
from tests.mobile.residents import resident

PROBLEM = "https://gridgov.example.org/problems/"
GARBAGE = "路口那堆垃圾好几天了没人清，臭得不行"  # routes confidently to CGJ (tests/dispatch/helpers.py)
INSIDE = {"lat": "31.8116", "lng": "119.951"}  # grid 320411001001001 of the test world
BEIJING = {"lat": "39.9", "lng": "116.4"}


def jpeg(
    size: tuple[int, int] = (64, 48),
    *,
    gps: bool = True,
    orientation: int | None = None,
    color: str = "red",
    quality: int = 85,
) -> bytes:
    """A JPEG as a phone makes it: EXIF with make, model and (by default) the GPS position."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"
    exif[0x0110] = "Redmi Note 12"
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 48.0, 41.76), 3: "E", 4: (119.0, 57.0, 3.6)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, exif=exif)
    return buf.getvalue()


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 255, 200)).save(buf, "PNG")
    return buf.getvalue()


def noisy_jpeg(min_bytes: int) -> bytes:
    """A real JPEG of at least `min_bytes` (random pixels do not compress)."""
    import os

    side = 1200
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=100)
        if buf.tell() >= min_bytes:
            return buf.getvalue()
        side += 600


def gps_of(data: bytes) -> dict[Any, Any]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(0x8825))


async def post_report(
    mobile: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    text_: str = GARBAGE,
    where: dict[str, str] | None = None,
    photos: list[tuple[str, bytes, str]] | None = None,
    key: str | None = None,
    extra: dict[str, str] | None = None,
    more_headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = {"text": text_, **(INSIDE if where is None else where), **(extra or {})}
    files = [("photos", p) for p in (photos or [])]
    h = {**headers, **(more_headers or {})}
    if key:
        h["Idempotency-Key"] = key
    return await mobile.post("/m/v1/reports", data=data, files=files or None, headers=h)


def problem(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == PROBLEM + type_, body
    return body


async def counts(session: Any) -> tuple[int, int, int, int]:
    """(mobile reports, mobile photos, dispatch tickets, rate counters)."""
    return (
        await session.scalar(select(func.count()).select_from(Report)),
        await session.scalar(select(func.count()).select_from(Photo)),
        await session.scalar(text("SELECT count(*) FROM dispatch.ticket")),
        await session.scalar(select(func.coalesce(func.sum(RateCounter.count), 0))),
    )


@pytest.fixture
async def alice(mobile, session, world):  # type: ignore[no-untyped-def]
    return await resident(mobile, session, world, 0, openid="alice")


class TestFiling:
    async def test_a_report_with_photos_becomes_a_dispatch_ticket(
        self, mobile, alice, dispatch, token, session
    ):
        r = await post_report(
            mobile,
            alice.headers,
            photos=[("a.jpg", jpeg(), "image/jpeg"), ("b.png", png(), "image/png")],
            extra={"address": "龙锦路与锦绣街路口", "contact_allowed": "true"},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["number"].startswith("SF")
        assert body["status"] == "dispatched" and body["status_label"] == "已派遣"
        assert body["unit_name"] == "XX区城市管理局"  # the full name, without the remit in brackets
        assert body["area_name"] == "龙锦社区 龙锦第1网格"
        assert len(body["photos"]) == 2
        assert all(u.startswith("http://mobile/m/v1/photos/") for u in body["photos"])
        assert r.headers["location"] == f"/m/v1/tickets/{body['number']}"

        got = await dispatch.get(
            f"/api/v1/tickets/by-number/{body['number']}", headers=token("district_admin", "320411")
        )
        t = got.json()
        assert t["channel"] == "mini_program" and t["text"] == GARBAGE
        assert t["address"] == "龙锦路与锦绣街路口" and t["lat"] == 31.8116
        assert [a["url"] for a in t["attachments"]] == body["photos"]
        assert t["reporter"]["contact_allowed"] is True and t["reporter"]["anonymous"] is False
        sub = await session.scalar(
            text("SELECT reporter_sub FROM dispatch.ticket WHERE number = :n"), {"n": body["number"]}
        )
        assert sub == str(alice.account_id)

        row = (
            await session.execute(select(Report).where(Report.ticket_number == body["number"]))
        ).scalar_one()
        assert row.account_id == alice.account_id and row.ticket_id == t["id"]
        assert row.photo_count == 2 and row.status == "dispatched" and row.summary == GARBAGE
        assert str(row.first_photo_id) == body["photos"][0].rsplit("/", 1)[1]

    async def test_the_public_copy_loses_exif_and_gps_and_the_original_keeps_them(
        self, mobile, alice, mobile_settings, session
    ):
        original = jpeg((80, 40), orientation=6)  # "rotate 90°": a phone held upright
        r = await post_report(mobile, alice.headers, photos=[("IMG_0001.JPG", original, "image/jpeg")])
        assert r.status_code == 201, r.text
        url = r.json()["photos"][0]
        photo = (
            await session.execute(select(Photo).where(Photo.account_id == alice.account_id))
        ).scalar_one()
        assert str(photo.id) == url.rsplit("/", 1)[1]
        kept = (mobile_settings.media_dir / photo.original_key).read_bytes()
        assert kept == original and gps_of(kept)  # the record, exactly as sent

        served = await mobile.get(url.removeprefix("http://mobile"))
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert "immutable" in served.headers["cache-control"] and "public" in served.headers["cache-control"]
        with Image.open(io.BytesIO(served.content)) as img:
            assert not img.getexif()  # no EXIF at all: no GPS, no phone model
            assert img.size == (40, 80)  # the orientation was applied before EXIF went
        assert served.content == (mobile_settings.media_dir / photo.key).read_bytes()

    async def test_photos_are_checked_by_content_png_and_webp_pass(self, mobile, alice):
        buf = io.BytesIO()
        Image.new("RGB", (20, 20), "green").save(buf, "WEBP")
        r = await post_report(
            mobile,
            alice.headers,
            photos=[("x.bin", png(), "application/octet-stream"), ("y", buf.getvalue(), "image/webp")],
        )
        assert r.status_code == 201, r.text
        types = [
            (await mobile.get(u.removeprefix("http://mobile"))).headers["content-type"]
            for u in r.json()["photos"]
        ]
        assert types == ["image/png", "image/webp"]

    async def test_no_photos_and_no_location_is_fine(self, mobile, alice):
        r = await post_report(mobile, alice.headers, where={}, extra={"address": "龙锦社区3栋楼下"})
        assert r.status_code == 201, r.text
        assert r.json()["photos"] == []

    async def test_anonymous_reports_reach_dispatch_as_anonymous(self, mobile, alice, dispatch, token):
        r = await post_report(mobile, alice.headers, extra={"anonymous": "true"})
        got = await dispatch.get(
            f"/api/v1/tickets/by-number/{r.json()['number']}", headers=token("grid_worker", "320411001001001")
        )
        assert got.json()["reporter"] == {
            "name": "匿名",
            "phone": None,
            "anonymous": True,
            "contact_allowed": False,
        }


class TestIdempotency:
    async def test_the_same_key_answers_with_the_first_report(self, mobile, alice, session):
        key = str(uuid.uuid4())
        first = await post_report(mobile, alice.headers, key=key, photos=[("a.jpg", jpeg(), "image/jpeg")])
        assert first.status_code == 201
        again = await post_report(mobile, alice.headers, key=key, photos=[("a.jpg", jpeg(), "image/jpeg")])
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json()["number"] == first.json()["number"]
        assert again.json()["photos"] == first.json()["photos"]
        reports, photos, tickets, hits = await counts(session)
        assert (reports, photos, tickets) == (1, 1, 1)
        assert hits == 2  # one report counted once, per resident and per IP

    async def test_a_retry_after_a_lost_answer_finds_dispatchs_ticket(
        self, mobile, mobile_app, alice, session
    ):
        """Dispatch filed the ticket but mobile's transaction did not commit (the answer was lost): the retry
        with the same key gets the same photo URLs, so dispatch replays its ticket instead of a 422."""
        key = str(uuid.uuid4())
        photo = [("a.jpg", jpeg(), "image/jpeg")]
        first = await post_report(mobile, alice.headers, key=key, photos=photo)
        number = first.json()["number"]
        await session.execute(text("DELETE FROM mobile.report WHERE ticket_number = :n"), {"n": number})
        await session.execute(text("DELETE FROM mobile.photo"))
        await session.commit()
        again = await post_report(mobile, alice.headers, key=key, photos=photo)
        assert again.status_code == 200, again.text
        assert again.json()["number"] == number and again.json()["photos"] == first.json()["photos"]
        assert (await counts(session))[:3] == (1, 1, 1)

    async def test_keys_are_per_resident(self, mobile, alice, session, world):
        bob = await resident(mobile, session, world, 1, openid="bob")
        key = str(uuid.uuid4())
        a = await post_report(mobile, alice.headers, key=key)
        b = await post_report(mobile, bob.headers, key=key, text_="小区门口的路灯坏了好几天，晚上一片漆黑")
        assert a.status_code == b.status_code == 201
        assert a.json()["number"] != b.json()["number"]

    async def test_a_malformed_key_is_a_422(self, mobile, alice):
        r = await post_report(mobile, alice.headers, key="short")
        assert problem(r, 422, "validation-error")["errors"][0]["loc"] == ["header", "Idempotency-Key"]


class TestRefusals:
    async def test_an_unbound_account_is_a_403(self, mobile, session, world):
        unbound = await resident(mobile, session, world, None, openid="nobody")
        r = await post_report(mobile, unbound.headers)
        assert "POST /m/v1/me/binding" in problem(r, 403, "not-bound")["detail"]

    async def test_no_token_is_a_401(self, mobile):
        r = await mobile.post("/m/v1/reports", data={"text": GARBAGE})
        problem(r, 401, "invalid-token")

    async def test_a_6_mb_photo_is_a_413_naming_the_limit(self, mobile, alice, session, mobile_settings):
        big = noisy_jpeg(6 * 1024 * 1024)
        files_before = {p for p in mobile_settings.media_dir.rglob("*") if p.is_file()}
        r = await post_report(
            mobile, alice.headers, photos=[("ok.jpg", jpeg(), "image/jpeg"), ("big.jpg", big, "image/jpeg")]
        )
        body = problem(r, 413, "photo-too-large")
        assert "5,242,880 bytes" in body["detail"] and "Photo 2 (big.jpg)" in body["detail"]
        assert body["limit"] == 5 * 1024 * 1024
        assert await counts(session) == (0, 0, 0, 0)  # nothing filed, nothing counted
        assert {p for p in mobile_settings.media_dir.rglob("*") if p.is_file()} == files_before

    async def test_a_text_file_named_jpg_is_a_415(self, mobile, alice, session):
        r = await post_report(
            mobile, alice.headers, photos=[("photo.jpg", "这不是照片".encode() * 50, "image/jpeg")]
        )
        body = problem(r, 415, "unsupported-photo")
        assert "JPEG, PNG or WebP" in body["detail"] and "Photo 1" in body["detail"]
        assert await counts(session) == (0, 0, 0, 0)

    async def test_a_gif_is_a_415_naming_what_it_is(self, mobile, alice):
        buf = io.BytesIO()
        Image.new("P", (8, 8)).save(buf, "GIF")
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", buf.getvalue(), "image/jpeg")])
        assert "is GIF" in problem(r, 415, "unsupported-photo")["detail"]

    async def test_an_empty_file_is_a_415(self, mobile, alice):
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", b"", "image/jpeg")])
        assert "empty" in problem(r, 415, "unsupported-photo")["detail"]

    async def test_a_decompression_bomb_is_refused_by_its_pixels(
        self, mobile, alice, mobile_app, monkeypatch
    ):
        monkeypatch.setattr(mobile_app.state.settings, "photo_max_pixels", 10_000)
        r = await post_report(mobile, alice.headers, photos=[("a.png", png((200, 100)), "image/png")])
        assert "200×100 pixels" in problem(r, 413, "photo-too-large")["detail"]

    async def test_ten_photos_is_a_422_naming_the_limit(self, mobile, alice, session):
        r = await post_report(
            mobile, alice.headers, photos=[(f"{i}.jpg", jpeg(), "image/jpeg") for i in range(10)]
        )
        body = problem(r, 422, "too-many-photos")
        assert "at most 9 photos" in body["detail"] and "has 10" in body["detail"] and body["limit"] == 9
        assert await counts(session) == (0, 0, 0, 0)

    async def test_nine_photos_pass(self, mobile, alice):
        r = await post_report(
            mobile, alice.headers, photos=[(f"{i}.jpg", jpeg(color="blue"), "image/jpeg") for i in range(9)]
        )
        assert r.status_code == 201 and len(r.json()["photos"]) == 9

    async def test_coordinates_of_another_city_are_outside_the_district(self, mobile, alice, session):
        r = await post_report(mobile, alice.headers, where=BEIJING)
        body = problem(r, 422, "outside-district")
        assert "outside the district" in body["detail"] and body["lat"] == 39.9
        assert await counts(session) == (0, 0, 0, 0)

    async def test_a_point_outside_china_is_outside_the_district(self, mobile, alice):
        r = await post_report(mobile, alice.headers, where={"lat": "0", "lng": "0"})
        assert "not in China" in problem(r, 422, "outside-district")["detail"]

    async def test_a_point_between_the_grids_is_the_districts_and_dispatch_places_it(self, mobile, alice):
        # grids 2 and 3 of the test world leave a gap of ~760 m: still the district
        r = await post_report(mobile, alice.headers, where={"lat": "31.8116", "lng": "119.963"})
        assert r.status_code == 201, r.text

    async def test_a_point_just_past_the_edge_is_within_the_margin(self, mobile, alice):
        # the world's grids end at lng 119.958; 200 m east is GPS error, not another district
        r = await post_report(mobile, alice.headers, where={"lat": "31.8116", "lng": "119.972"})
        assert r.status_code == 201, r.text

    @pytest.mark.parametrize(
        ("data", "where"),
        [
            ({"text": "太短"}, "text"),
            ({"text": "   短    "}, "text"),
            ({"text": "x" * 501}, "text"),
            ({"text": GARBAGE, "lat": "31.8"}, "body"),
            ({"text": GARBAGE, "lat": "north", "lng": "119.9"}, "lat"),
            ({"text": GARBAGE, "anonymous": "perhaps"}, "anonymous"),
            ({"text": GARBAGE, "photo": "x"}, "photo"),
            ({"text": "含有\x00的文本内容"}, "text"),
        ],
    )
    async def test_bad_fields_are_422s_naming_the_field(self, mobile, alice, data, where):
        r = await mobile.post("/m/v1/reports", data=data, headers=alice.headers)
        body = problem(r, 422, "validation-error")
        assert any(where in e["loc"] for e in body["errors"]), body

    async def test_a_photo_sent_as_a_text_field_is_a_422(self, mobile, alice):
        r = await mobile.post(
            "/m/v1/reports",
            data={"text": GARBAGE, "photos": "data:image/jpeg;base64,xx"},
            headers=alice.headers,
        )
        assert "must be files" in problem(r, 422, "validation-error")["detail"]
