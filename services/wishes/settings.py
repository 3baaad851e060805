"""Wishes settings (`WISHES_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings, database_url_field

ROOT = Path(__file__).resolve().parents[2]


class WishesSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WISHES_", extra="ignore", populate_by_name=True)

    service_name: str = "wishes"
    database_url: str = database_url_field("WISHES_")
    registry_url: str = Field(
        default="http://127.0.0.1:8001", description="Base URL of the registry service."
    )
    client_id: str = Field(default="svc-wishes", description="This service's account at the registry.")
    client_secret: str = Field(
        description="Its client-credentials secret (`make run` generates one into .data/secrets.env)."
    )
    media_dir: Path = Field(
        default=ROOT / ".data" / "media" / "wishes",
        description="Where uploaded photos are stored (one file per photo, named by its id).",
    )
    photo_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest photo accepted.")
    photo_max_pixels: int = Field(
        default=40_000_000,
        ge=10_000,
        description="Largest image (width × height) decoded: a decompression-bomb guard.",
    )

    claim_lapse_days: float = Field(
        default=7.0, gt=0, description="A claim not started within this many days lapses back to the wall."
    )
    auto_confirm_days: float = Field(
        default=7.0,
        gt=0,
        description="A completed wish the resident has not confirmed (or disputed) in this many days is "
        "confirmed automatically.",
    )
    job_interval_s: float = Field(
        default=60.0, gt=0, description="How often the lapse and auto-confirm job runs."
    )
    job_batch: int = Field(default=500, ge=1, le=10_000)
    max_projects_per_unit: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Projects a member unit may claim in one year (the model says 1–2).",
    )
    star_thresholds: str = Field(
        default="10,30,60,100,200",
        description="Points needed for 1 to 5 stars on the star ranking (星级排行榜), ascending.",
    )

    @field_validator("client_secret")
    @classmethod
    def _real_secret(cls, v: str) -> str:
        if len(v) < 16 or v.lower() in {"changeme", "change-me", "secret", "password"}:
            raise ValueError("WISHES_CLIENT_SECRET must be the service account's real secret (16+ chars)")
        return v

    @field_validator("star_thresholds")
    @classmethod
    def _stars(cls, v: str) -> str:
        parts = [int(x) for x in v.split(",")]
        if len(parts) != 5 or parts != sorted(parts) or parts[0] < 0:
            raise ValueError(
                "star_thresholds must be five ascending non-negative integers, e.g. 10,30,60,100,200"
            )
        return v

    @property
    def stars(self) -> list[int]:
        return [int(x) for x in self.star_thresholds.split(",")]


@lru_cache
def get_settings() -> WishesSettings:
    return WishesSettings()  # type: ignore[call-arg]
