"""dispatch initial: tables, the append-only trail trigger, and the shipped units and standards

The 23 units and 285 standards come from services/dispatch/data/ (checked by catalog.load_standards)
and are inserted as version 1. Later edits made through the API add versions in the database; a later
change to the shipped files needs its own migration.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:37:39.713843
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from services.dispatch import catalog

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS dispatch")
    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_catalog_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_revision")),
        schema="dispatch",
    )
    op.create_table(
        "department",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("short_name", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_department")),
        schema="dispatch",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema="dispatch",
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "ticket_counter",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_counter")),
        schema="dispatch",
    )
    op.create_table(
        "standard",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("category_l1", sa.String(length=40), nullable=False),
        sa.Column("category_l2", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("filing_condition", sa.Text(), nullable=False),
        sa.Column("closing_condition", sa.Text(), nullable=False),
        sa.Column("keywords", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("examples", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=False),
        sa.Column("handling_hours", sa.Float(), nullable=False),
        sa.Column("urgency", sa.String(length=12), nullable=False),
        sa.Column("verify_on_site", sa.Boolean(), nullable=False),
        sa.Column("channel_rule", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("level IN ('community','street','district')", name=op.f("ck_standard_level")),
        sa.CheckConstraint("status IN ('active','superseded','retired')", name=op.f("ck_standard_status")),
        sa.CheckConstraint("urgency IN ('normal','urgent','emergency')", name=op.f("ck_standard_urgency")),
        sa.CheckConstraint(
            "response_hours > 0 AND handling_hours >= response_hours", name=op.f("ck_standard_limits")
        ),
        sa.ForeignKeyConstraint(
            ["unit"], ["dispatch.department.code"], name=op.f("fk_standard_unit_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_standard_code_version")),
        schema="dispatch",
    )
    op.create_index(
        "uq_standard_current",
        "standard",
        ["code"],
        unique=True,
        schema="dispatch",
        postgresql_where=sa.text("status <> 'superseded'"),
    )
    op.create_table(
        "ticket",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=12), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("place_status", sa.String(length=12), nullable=False),
        sa.Column("place_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("district_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("street_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("street_name", sa.String(length=100), nullable=True),
        sa.Column("community_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("community_name", sa.String(length=100), nullable=True),
        sa.Column("grid_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("grid_name", sa.String(length=100), nullable=True),
        sa.Column("micro_grid_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("reporter_name", sa.String(length=50), nullable=True),
        sa.Column("reporter_phone", sa.String(length=20), nullable=True),
        sa.Column("reporter_sub", sa.String(length=64), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("contact_allowed", sa.Boolean(), nullable=False),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=True),
        sa.Column("standard_code", sa.String(length=6), nullable=True),
        sa.Column("unit", sa.String(length=8), nullable=True),
        sa.Column("level", sa.String(length=12), nullable=True),
        sa.Column("route_score", sa.Float(), nullable=True),
        sa.Column("route_confident", sa.Boolean(), nullable=False),
        sa.Column("suggested_code", sa.String(length=6), nullable=True),
        sa.Column("verify_on_site", sa.Boolean(), nullable=False),
        sa.Column("master_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_hours", sa.Float(), nullable=True),
        sa.Column("handling_hours", sa.Float(), nullable=True),
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handling_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pauses", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("alarm_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_round", sa.SmallInteger(), nullable=False),
        sa.Column("supervision_level", sa.SmallInteger(), nullable=False),
        sa.Column("response_overdue", sa.Boolean(), nullable=False),
        sa.Column("work_seconds", sa.Float(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("satisfaction", sa.String(length=24), nullable=True),
        sa.Column("extension_pending", sa.Boolean(), nullable=False),
        sa.Column("reopen_count", sa.SmallInteger(), nullable=False),
        sa.Column("return_count", sa.SmallInteger(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("idem_owner", sa.String(length=64), nullable=True),
        sa.Column("idem_key", sa.String(length=200), nullable=True),
        sa.Column("idem_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "channel IN ('patrol','wechat_group','snapshot','hotline','phone','petition','video_patrol','mailbox','mini_program')",
            name=op.f("ck_ticket_channel"),
        ),
        sa.CheckConstraint(
            "level IS NULL OR level IN ('community','street','district')", name=op.f("ck_ticket_level")
        ),
        sa.CheckConstraint(
            "place_status IN ('resolved','pending','unresolved','none')", name=op.f("ck_ticket_place_status")
        ),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction IN ('satisfied','basically_satisfied','dissatisfied')",
            name=op.f("ck_ticket_satisfaction"),
        ),
        sa.CheckConstraint(
            "status IN ('registered','triage','linked','dispatched','accepted','handling','suspended','handled','verified','closed','feedback','returned','reopened','cancelled')",
            name=op.f("ck_ticket_status"),
        ),
        sa.CheckConstraint("urgency IN ('normal','urgent','emergency')", name=op.f("ck_ticket_urgency")),
        sa.ForeignKeyConstraint(
            ["master_id"], ["dispatch.ticket.id"], name=op.f("fk_ticket_master_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["standard_id"], ["dispatch.standard.id"], name=op.f("fk_ticket_standard_id_standard")
        ),
        sa.ForeignKeyConstraint(
            ["unit"], ["dispatch.department.code"], name=op.f("fk_ticket_unit_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket")),
        sa.UniqueConstraint("idem_owner", "idem_key", name=op.f("uq_ticket_idem_owner_idem_key")),
        sa.UniqueConstraint("number", name=op.f("uq_ticket_number")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_dispatch_ticket_area_code"), "ticket", ["area_code"], unique=False, schema="dispatch"
    )
    op.create_index(
        "ix_ticket_alarm_at",
        "ticket",
        ["alarm_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("alarm_at IS NOT NULL"),
    )
    op.create_index(
        "ix_ticket_closed_at",
        "ticket",
        ["closed_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("closed_at IS NOT NULL"),
    )
    op.create_index("ix_ticket_created_at", "ticket", ["created_at"], unique=False, schema="dispatch")
    op.create_index(
        "ix_ticket_feedback_at",
        "ticket",
        ["feedback_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("feedback_at IS NOT NULL"),
    )
    op.create_index(
        "ix_ticket_master_id",
        "ticket",
        ["master_id"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("master_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ticket_open_standard",
        "ticket",
        ["standard_code", "created_at"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text(
            "status IN ('registered','dispatched','accepted','handling','suspended','handled','returned','reopened') "
            "AND master_id IS NULL"
        ),
    )
    op.create_index(
        "ix_ticket_place_pending",
        "ticket",
        ["id"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("place_status = 'pending'"),
    )
    op.create_index("ix_ticket_status", "ticket", ["status"], unique=False, schema="dispatch")
    op.create_index(
        "ix_ticket_reporter_sub",
        "ticket",
        ["reporter_sub"],
        unique=False,
        schema="dispatch",
        postgresql_where=sa.text("reporter_sub IS NOT NULL"),
    )
    op.create_index("ix_ticket_unit_status", "ticket", ["unit", "status"], unique=False, schema="dispatch")
    op.create_table(
        "extension",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("decision", sa.String(length=12), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "decision IS NULL OR decision IN ('approved','refused','lapsed')",
            name=op.f("ck_extension_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["dispatch.ticket.id"], name=op.f("fk_extension_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_dispatch_extension_ticket_id"), "extension", ["ticket_id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "routing_correction",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("from_code", sa.String(length=6), nullable=True),
        sa.Column("to_code", sa.String(length=6), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["dispatch.ticket.id"],
            name=op.f("fk_routing_correction_ticket_id_ticket"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_correction")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_dispatch_routing_correction_ticket_id"),
        "routing_correction",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_table(
        "supervision",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("round", sa.SmallInteger(), nullable=False),
        sa.Column("clock", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=True),
        sa.Column("street_code", sa.String(length=32, collation="C"), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("clock IN ('response','handling')", name=op.f("ck_supervision_clock")),
        sa.CheckConstraint("kind IN ('warning','yellow','red')", name=op.f("ck_supervision_kind")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["dispatch.ticket.id"], name=op.f("fk_supervision_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision")),
        sa.UniqueConstraint(
            "ticket_id", "round", "clock", "kind", name=op.f("uq_supervision_ticket_id_round_clock_kind")
        ),
        schema="dispatch",
    )
    op.create_index(
        "ix_supervision_created_at", "supervision", ["created_at"], unique=False, schema="dispatch"
    )
    op.create_table(
        "ticket_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["dispatch.ticket.id"],
            name=op.f("fk_ticket_event_ticket_id_ticket"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
        schema="dispatch",
    )
    op.create_index(
        "ix_ticket_event_ticket_id", "ticket_event", ["ticket_id", "id"], unique=False, schema="dispatch"
    )
    op.create_table(
        "ticket_return",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("suggested_unit", sa.String(length=8), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("ruling", sa.String(length=12), nullable=True),
        sa.Column("ruling_note", sa.Text(), nullable=True),
        sa.Column("ruled_by", sa.String(length=64), nullable=True),
        sa.Column("ruled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "ruling IS NULL OR ruling IN ('upheld','rejected')", name=op.f("ck_ticket_return_ruling")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["dispatch.ticket.id"], name=op.f("fk_ticket_return_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["unit"], ["dispatch.department.code"], name=op.f("fk_ticket_return_unit_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_return")),
        schema="dispatch",
    )
    op.create_index(
        op.f("ix_dispatch_ticket_return_ticket_id"),
        "ticket_return",
        ["ticket_id"],
        unique=False,
        schema="dispatch",
    )
    op.create_index(
        "ix_ticket_return_requested_at", "ticket_return", ["requested_at"], unique=False, schema="dispatch"
    )
    op.execute(
        """
        CREATE FUNCTION dispatch.trail_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'dispatch.ticket_event is append-only (全程留痕): % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER ticket_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON dispatch.ticket_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION dispatch.trail_is_append_only()"
    )
    _load_catalog()


def _load_catalog() -> None:
    department = sa.table(
        "department",
        sa.column("code"),
        sa.column("name"),
        sa.column("short_name"),
        sa.column("scope"),
        schema="dispatch",
    )
    op.bulk_insert(department, [d.__dict__ for d in catalog.load_departments()])
    standard = sa.table(
        "standard",
        *(
            sa.column(c, postgresql.ARRAY(sa.Text)) if c in ("keywords", "examples") else sa.column(c)
            for c in catalog.STANDARD_COLUMNS
        ),
        sa.column("version"),
        sa.column("status"),
        sa.column("created_by"),
        schema="dispatch",
    )
    rows = []
    for s in catalog.load_standards():
        row = dict(s.__dict__)
        row.update(keywords=list(s.keywords), examples=list(s.examples), version=1, status="active")
        row["created_by"] = "migration"
        rows.append(row)
    op.bulk_insert(standard, rows)
    op.execute("INSERT INTO dispatch.catalog_revision (id, rev) VALUES (1, 1)")


def downgrade() -> None:
    op.drop_index("ix_ticket_return_requested_at", table_name="ticket_return", schema="dispatch")
    op.drop_index(op.f("ix_dispatch_ticket_return_ticket_id"), table_name="ticket_return", schema="dispatch")
    op.drop_table("ticket_return", schema="dispatch")
    op.drop_index("ix_ticket_event_ticket_id", table_name="ticket_event", schema="dispatch")
    op.drop_table("ticket_event", schema="dispatch")
    op.drop_index("ix_supervision_created_at", table_name="supervision", schema="dispatch")
    op.drop_table("supervision", schema="dispatch")
    op.drop_index(
        op.f("ix_dispatch_routing_correction_ticket_id"), table_name="routing_correction", schema="dispatch"
    )
    op.drop_table("routing_correction", schema="dispatch")
    op.drop_index(op.f("ix_dispatch_extension_ticket_id"), table_name="extension", schema="dispatch")
    op.drop_table("extension", schema="dispatch")
    op.drop_index("ix_ticket_unit_status", table_name="ticket", schema="dispatch")
    op.drop_index("ix_ticket_reporter_sub", table_name="ticket", schema="dispatch")
    op.drop_index("ix_ticket_status", table_name="ticket", schema="dispatch")
    op.drop_index(
        "ix_ticket_place_pending",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text("place_status = 'pending'"),
    )
    op.drop_index(
        "ix_ticket_open_standard",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text(
            "status IN ('registered','dispatched','accepted','handling','suspended','handled','returned','reopened') "
            "AND master_id IS NULL"
        ),
    )
    op.drop_index(
        "ix_ticket_master_id",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text("master_id IS NOT NULL"),
    )
    op.drop_index("ix_ticket_created_at", table_name="ticket", schema="dispatch")
    op.drop_index(
        "ix_ticket_closed_at",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text("closed_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_ticket_alarm_at",
        table_name="ticket",
        schema="dispatch",
        postgresql_where=sa.text("alarm_at IS NOT NULL"),
    )
    op.drop_index(op.f("ix_dispatch_ticket_area_code"), table_name="ticket", schema="dispatch")
    op.drop_table("ticket", schema="dispatch")
    op.drop_index(
        "uq_standard_current",
        table_name="standard",
        schema="dispatch",
        postgresql_where=sa.text("status <> 'superseded'"),
    )
    op.drop_table("standard", schema="dispatch")
    op.drop_table("ticket_counter", schema="dispatch")
    op.drop_index(
        "ix_outbox_pending",
        table_name="outbox",
        schema="dispatch",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox", schema="dispatch")
    op.drop_table("department", schema="dispatch")
    op.drop_table("catalog_revision", schema="dispatch")
    op.execute("DROP FUNCTION IF EXISTS dispatch.trail_is_append_only()")
    op.execute("DROP SCHEMA IF EXISTS dispatch")
