"""dispatch hotline: the 12345 integration's keys, nonces, orders, callback outbox and delivery log

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:58:39.769240
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline_callback",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "event IN ('accepted','returned','extension_requested','extension_decided','completed','satisfaction')",
            name=op.f("ck_hotline_callback_event"),
        ),
        sa.CheckConstraint("state IN ('pending','delivered','dead')", name=op.f("ck_hotline_callback_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_callback")),
        sa.UniqueConstraint("order_no", "seq", name=op.f("uq_hotline_callback_order_no_seq")),
        schema="dispatch",
    )
    op.create_index(
        "ix_hotline_callback_created_at", "hotline_callback", ["created_at"], unique=False, schema="dispatch"
    )
    op.create_index(
        "ix_hotline_callback_due",
        "hotline_callback",
        ["next_attempt_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index(
        "ix_hotline_callback_open",
        "hotline_callback",
        ["order_no", "seq"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("state <> 'delivered'"),
    )
    op.create_table(
        "hotline_key",
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active','revoked')", name=op.f("ck_hotline_key_status")),
        sa.PrimaryKeyConstraint("app_key", name=op.f("pk_hotline_key")),
        schema="dispatch",
    )
    op.create_table(
        "hotline_nonce",
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("app_key", "nonce", name=op.f("pk_hotline_nonce")),
        schema="dispatch",
    )
    op.create_index("ix_hotline_nonce_seen_at", "hotline_nonce", ["seen_at"], unique=False, schema="dispatch")
    op.create_table(
        "hotline_delivery",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("callback_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["dispatch.hotline_callback.id"],
            name=op.f("fk_hotline_delivery_callback_id_hotline_callback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_delivery")),
        schema="dispatch",
    )
    op.create_index(
        "ix_hotline_delivery_callback_id",
        "hotline_delivery",
        ["callback_id", "id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "hotline_order",
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("app_key", sa.String(length=64), nullable=False),
        sa.Column("appeal_type", sa.String(length=4), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suggested_unit", sa.String(length=100), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "appeal_type IN ('咨询','求助','投诉','举报','建议','表扬')",
            name=op.f("ck_hotline_order_appeal_type"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["dispatch.ticket.id"], name=op.f("fk_hotline_order_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_hotline_order")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_hotline_order_ticket_id")),
        schema="dispatch",
    )


def downgrade() -> None:
    op.drop_table("hotline_order", schema="dispatch")
    op.drop_index("ix_hotline_delivery_callback_id", table_name="hotline_delivery", schema="dispatch")
    op.drop_table("hotline_delivery", schema="dispatch")
    op.drop_index("ix_hotline_nonce_seen_at", table_name="hotline_nonce", schema="dispatch")
    op.drop_table("hotline_nonce", schema="dispatch")
    op.drop_table("hotline_key", schema="dispatch")
    op.drop_index(
        "ix_hotline_callback_open",
        table_name="hotline_callback",
        schema="dispatch",
        postgresql_where=sa.text("state <> 'delivered'"),
    )
    op.drop_index(
        "ix_hotline_callback_due",
        table_name="hotline_callback",
        schema="dispatch",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_index("ix_hotline_callback_created_at", table_name="hotline_callback", schema="dispatch")
    op.drop_table("hotline_callback", schema="dispatch")
