"""Mobile service settings (`MOBILE_` prefix)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, database_url_field

ROOT = Path(__file__).resolve().parents[2]


class MobileSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MOBILE_", extra="ignore", populate_by_name=True)

    service_name: str = "mobile"
    database_url: str = database_url_field("MOBILE_")
    registry_url: str = Field(default="http://127.0.0.1:8001", description="Base URL of the registry.")
    dispatch_url: str = Field(default="http://127.0.0.1:8002", description="Base URL of dispatch.")
    wishes_url: str = Field(default="http://127.0.0.1:8003", description="Base URL of wishes.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="This service's public base URL: photo links handed to dispatch and to clients.",
    )
    client_id: str = Field(default="svc-mobile", description="This service's account at the registry.")
    client_secret: str = Field(
        description="Its client-credentials secret (`make run` generates one into .data/secrets.env)."
    )
    upstream_timeout_s: float = Field(
        default=3.0, gt=0, le=60, description="Per-call timeout to registry, dispatch and wishes."
    )

    # WeChat code2session (登录凭证校验)
    wechat_base_url: str = Field(
        default="https://api.weixin.qq.com",
        description="WeChat's API base; `make run` points it at the local fake (tools/wechat_fake.py).",
    )
    wechat_app_id: str = Field(default="wx0000000000000000", description="The mini-program's AppID.")
    wechat_app_secret: str = Field(default="", description="The mini-program's AppSecret.")

    # resident tokens: signed here (EdDSA), audience gridgov-resident; staff services refuse them
    token_key: str = Field(
        description="url-safe base64 of a 32-byte Ed25519 seed: signs resident access tokens."
    )
    token_issuer: str = "gridgov-mobile"
    access_token_ttl_s: int = Field(default=7200, ge=60, le=86400, description="Access token lifetime.")
    refresh_token_ttl_s: int = Field(
        default=30 * 86400, ge=3600, description="Refresh token (and session) lifetime."
    )
    refresh_reuse_grace_s: float = Field(
        default=10,
        ge=0,
        le=60,
        description="A spent refresh token presented again within this many seconds of its first use gets "
        "a new pair in the same session (one client refreshing from several requests at once); later, it is "
        "reuse and ends the session. 0 treats every second use as reuse.",
    )
    session_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a replica trusts that a session is not logged out (logout reaches other "
        "replicas within it).",
    )

    # binding to a household
    bind_max_failures: int = Field(default=5, ge=1, le=50, description="Wrong details before a lock.")
    bind_lock_s: int = Field(default=1800, ge=10, description="How long binding stays locked.")

    # reports (随手拍)
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest photo.")
    photo_max_count: int = Field(default=9, ge=1, le=9, description="Photos per report.")
    photo_max_pixels: int = Field(default=40_000_000, ge=10_000, description="Decompression-bomb guard.")
    reports_per_resident_day: int = Field(default=20, ge=1, description="Reports a resident may send a day.")
    reports_per_ip_day: int = Field(
        default=60, ge=1, description="Reports from one IP address a day (a shared Wi-Fi has many residents)."
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of reverse proxies (JSON list). Only a request arriving from one "
        "of them has its X-Forwarded-For read: the client is the right-most address not itself a trusted "
        "proxy. Empty (default): the peer address is the client, X-Forwarded-For is ignored.",
    )
    district_margin_m: float = Field(
        default=500.0,
        ge=0,
        le=50_000,
        description="A report's point may lie this far outside the outline of the district's grids (GPS "
        "error at the edge) before it is refused as outside the district.",
    )
    map_refresh_s: float = Field(
        default=300.0, gt=0, description="How often the district outline is re-checked at the registry."
    )
    dispatch_client_id: str = Field(
        default="svc-dispatch",
        description="The only service account whose ticket-status pushes are accepted.",
    )
    storage: Literal["local", "s3"] = Field(default="local", description="Where photos are stored.")
    media_dir: Path = Field(default=ROOT / ".data" / "media" / "mobile", description="Local photo store.")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (MinIO, OSS, COS).")
    s3_bucket: str = "gridgov-mobile"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None

    @field_validator("client_secret")
    @classmethod
    def _real_secret(cls, v: str) -> str:
        if len(v) < 16 or v.lower() in {"changeme", "change-me", "secret", "password"}:
            raise ValueError("MOBILE_CLIENT_SECRET must be the service account's real secret (16+ chars)")
        return v

    @field_validator("token_key")
    @classmethod
    def _seed(cls, v: str) -> str:
        import base64

        try:
            raw = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("MOBILE_TOKEN_KEY must be url-safe base64 of 32 random bytes")
        return v


def get_settings() -> MobileSettings:
    return MobileSettings()  # type: ignore[call-arg]
