"""Photo storage: the local directory and S3, the latter against moto's S3 server (the real S3 protocol over
HTTP, in a thread), both through the whole report flow."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlalchemy import select

from services.mobile.errors import PhotoNotFound
from services.mobile.models import Photo
from services.mobile.reports.storage import LocalStorage, S3Storage, make_storage
from tests.mobile.residents import resident
from tests.mobile.test_reports_create import gps_of, jpeg, post_report

KEYS = {"s3_access_key": "test-access-key", "s3_secret_key": "test-secret-key", "s3_region": "us-east-1"}


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(mobile_settings, s3_url):  # type: ignore[no-untyped-def]
    bucket = f"gridgov-test-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name=KEYS["s3_region"],
        aws_access_key_id=KEYS["s3_access_key"],
        aws_secret_access_key=KEYS["s3_secret_key"],
    ).create_bucket(Bucket=bucket)
    return mobile_settings.model_copy(
        update={"storage": "s3", "s3_endpoint_url": s3_url, "s3_bucket": bucket, **KEYS}
    )


def test_settings_choose_the_store(mobile_settings, s3_settings):  # type: ignore[no-untyped-def]
    assert isinstance(make_storage(mobile_settings), LocalStorage)
    store = make_storage(s3_settings)
    assert isinstance(store, S3Storage) and store.bucket == s3_settings.s3_bucket


class TestS3Storage:
    async def test_put_get_delete_over_the_s3_protocol(self, s3_settings):
        store = make_storage(s3_settings)
        await store.put("public/ab/abc.jpg", b"\xff\xd8 bytes", "image/jpeg")
        assert await store.get("public/ab/abc.jpg") == b"\xff\xd8 bytes"
        head = store.client.head_object(Bucket=store.bucket, Key="public/ab/abc.jpg")
        assert head["ContentType"] == "image/jpeg"
        await store.delete("public/ab/abc.jpg")
        with pytest.raises(PhotoNotFound):
            await store.get("public/ab/abc.jpg")
        await store.delete("public/ab/abc.jpg")  # already gone: no error

    async def test_keys_that_climb_out_are_refused(self, s3_settings, tmp_path):
        for store in (make_storage(s3_settings), LocalStorage(tmp_path)):
            with pytest.raises(ValueError, match="bad storage key"):
                await store.put("../etc/passwd", b"x", "text/plain")

    async def test_a_report_keeps_both_copies_in_the_bucket_and_serves_the_public_one(
        self, mobile, mobile_app, session, world, s3_settings
    ):
        mobile_app.state.storage = store = make_storage(s3_settings)
        alice = await resident(mobile, session, world, 0, openid="alice")
        original = jpeg((60, 30), orientation=8)
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", original, "image/jpeg")])
        assert r.status_code == 201, r.text
        photo = (await session.execute(select(Photo))).scalar_one()
        listed = store.client.list_objects_v2(Bucket=store.bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted([photo.key, photo.original_key])
        assert await store.get(photo.original_key) == original and gps_of(original)

        served = await mobile.get(r.json()["photos"][0].removeprefix("http://mobile"))
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["etag"] == f'"{photo.id.hex}"'
        with Image.open(io.BytesIO(served.content)) as img:
            assert not img.getexif() and img.size == (30, 60)

    async def test_a_failed_report_leaves_no_objects(self, mobile, mobile_app, session, world, s3_settings):
        mobile_app.state.storage = store = make_storage(s3_settings)
        alice = await resident(mobile, session, world, 0, openid="alice")
        r = await post_report(
            mobile,
            alice.headers,
            photos=[("a.jpg", jpeg(), "image/jpeg"), ("b.jpg", b"plain text", "image/jpeg")],
        )
        assert r.status_code == 415
        assert store.client.list_objects_v2(Bucket=store.bucket).get("KeyCount", 0) == 0


class TestServingPhotos:
    async def test_an_unknown_photo_is_a_404_and_a_bad_id_a_422(self, mobile):
        r = await mobile.get(f"/m/v1/photos/{uuid.uuid4()}")
        assert r.status_code == 404 and r.json()["type"].endswith("/photo-not-found")
        assert (await mobile.get("/m/v1/photos/42")).status_code == 422

    async def test_the_etag_answers_a_revalidation_with_304(self, mobile, session, world):
        alice = await resident(mobile, session, world, 0, openid="alice")
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", jpeg(), "image/jpeg")])
        path = r.json()["photos"][0].removeprefix("http://mobile")
        first = await mobile.get(path)
        again = await mobile.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""

    async def test_the_original_is_never_served(self, mobile, session, world, mobile_settings):
        alice = await resident(mobile, session, world, 0, openid="alice")
        original = jpeg()
        r = await post_report(mobile, alice.headers, photos=[("a.jpg", original, "image/jpeg")])
        served = await mobile.get(r.json()["photos"][0].removeprefix("http://mobile"))
        assert served.content != original and not gps_of(served.content)
