"""mobile initial: resident accounts (WeChat openid, bound once to a registry resident), sessions and
rotating refresh tokens, abuse counters, photos, and each resident's reports (a mirror of their tickets)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:06:22.566063
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS mobile")
    op.create_table(
        "account",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("unionid", sa.String(length=64), nullable=True),
        sa.Column("resident_id", sa.BigInteger(), nullable=True),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column("area_code", sa.String(length=32), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bind_failures", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("bind_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "last_login_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("openid", name=op.f("uq_account_openid")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_account_resident_id")),
        schema="mobile",
    )
    op.create_table(
        "rate_counter",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_counter")),
        schema="mobile",
    )
    op.create_index(
        "ix_rate_counter_window_end", "rate_counter", ["window_end"], unique=False, schema="mobile"
    )
    op.create_table(
        "photo",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("original_key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mobile.account.id"],
            name=op.f("fk_photo_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        schema="mobile",
    )
    op.create_index(
        op.f("ix_mobile_photo_account_id"), "photo", ["account_id"], unique=False, schema="mobile"
    )
    op.create_table(
        "report",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_number", sa.String(length=24), nullable=False),
        sa.Column("idem_key", sa.String(length=80), nullable=True),
        sa.Column("summary", sa.String(length=120), nullable=False),
        sa.Column("photo_count", sa.SmallInteger(), nullable=False),
        sa.Column("first_photo_id", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("merged_into", sa.String(length=24), nullable=True),
        sa.Column("unit_name", sa.String(length=80), nullable=True),
        sa.Column("event_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("satisfaction", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction IN ('satisfied', 'basically_satisfied', 'dissatisfied')",
            name=op.f("ck_report_satisfaction"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mobile.account.id"],
            name=op.f("fk_report_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        sa.UniqueConstraint("account_id", "idem_key", name="uq_report_idem"),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_report_ticket_id")),
        sa.UniqueConstraint("ticket_number", name=op.f("uq_report_ticket_number")),
        schema="mobile",
    )
    op.create_index(
        "ix_report_account",
        "report",
        ["account_id", sa.literal_column("id DESC")],
        unique=False,
        schema="mobile",
    )
    op.create_table(
        "session",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mobile.account.id"],
            name=op.f("fk_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
        schema="mobile",
    )
    op.create_index(
        op.f("ix_mobile_session_account_id"), "session", ["account_id"], unique=False, schema="mobile"
    )
    op.create_table(
        "refresh_token",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["mobile.session.id"],
            name=op.f("fk_refresh_token_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_refresh_token")),
        schema="mobile",
    )
    op.create_index(
        op.f("ix_mobile_refresh_token_session_id"),
        "refresh_token",
        ["session_id"],
        unique=False,
        schema="mobile",
    )
    op.create_table(
        "wish_request",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("idem_key", sa.String(length=80), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("wish_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["mobile.account.id"],
            name=op.f("fk_wish_request_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "idem_key", name=op.f("pk_wish_request")),
        schema="mobile",
    )


def downgrade() -> None:
    op.drop_table("wish_request", schema="mobile")
    op.drop_index(op.f("ix_mobile_refresh_token_session_id"), table_name="refresh_token", schema="mobile")
    op.drop_table("refresh_token", schema="mobile")
    op.drop_index(op.f("ix_mobile_session_account_id"), table_name="session", schema="mobile")
    op.drop_table("session", schema="mobile")
    op.drop_index("ix_report_account", table_name="report", schema="mobile")
    op.drop_table("report", schema="mobile")
    op.drop_index(op.f("ix_mobile_photo_account_id"), table_name="photo", schema="mobile")
    op.drop_table("photo", schema="mobile")
    op.drop_index("ix_rate_counter_window_end", table_name="rate_counter", schema="mobile")
    op.drop_table("rate_counter", schema="mobile")
    op.drop_table("account", schema="mobile")
    op.execute("DROP SCHEMA IF EXISTS mobile")
