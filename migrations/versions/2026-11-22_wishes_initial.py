"""wishes initial: wishes and their trail, member units and their three lists, volunteers, the points
ledger (append-only, like the trail) and the points supermarket

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:11:28.449186
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS wishes")
    op.create_table(
        "catalogue_item",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("price > 0", name=op.f("ck_catalogue_item_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_catalogue_item_stock")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_item")),
        schema="wishes",
    )
    op.create_index(
        "ix_catalogue_item_area_code", "catalogue_item", ["area_code"], unique=False, schema="wishes"
    )
    op.create_table(
        "member_unit",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=16, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("area_name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("party_members", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('党政机关','群团组织','企事业单位','社会组织','商户')", name=op.f("ck_member_unit_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_unit")),
        sa.UniqueConstraint("code", name=op.f("uq_member_unit_code")),
        schema="wishes",
    )
    op.create_index("ix_member_unit_area_code", "member_unit", ["area_code"], unique=False, schema="wishes")
    op.create_table(
        "photo",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/jpeg','image/png','image/webp')", name=op.f("ck_photo_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        schema="wishes",
    )
    op.create_table(
        "points_rule",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("points_per_hour", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "category IS NULL OR category IN ('助老','助残','助学','助困','就业','医疗健康','生活服务','其他')",
            name=op.f("ck_points_rule_category"),
        ),
        sa.CheckConstraint("points >= 0 AND points_per_hour >= 0", name=op.f("ck_points_rule_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rule")),
        schema="wishes",
    )
    op.create_table(
        "community_need",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("households", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "category IN ('助老','助残','助学','助困','就业','医疗健康','生活服务','其他')",
            name=op.f("ck_community_need_category"),
        ),
        sa.CheckConstraint(
            "status IN ('open','matched','met','dropped')", name=op.f("ck_community_need_status")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["wishes.member_unit.id"], name=op.f("fk_community_need_unit_id_member_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_need")),
        schema="wishes",
    )
    op.create_index(
        "ix_community_need_area_code",
        "community_need",
        ["area_code", "status"],
        unique=False,
        schema="wishes",
    )
    op.create_table(
        "project",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("budget", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_score", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('open','claimed','in_progress','done','dropped')", name=op.f("ck_project_status")
        ),
        sa.CheckConstraint("budget IS NULL OR budget >= 0", name=op.f("ck_project_budget")),
        sa.CheckConstraint(
            "review_score IS NULL OR review_score BETWEEN 0 AND 100", name=op.f("ck_project_review_score")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["wishes.member_unit.id"], name=op.f("fk_project_unit_id_member_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project")),
        schema="wishes",
    )
    op.create_index("ix_project_area_code", "project", ["area_code", "year"], unique=False, schema="wishes")
    op.create_index("ix_project_unit_id", "project", ["unit_id", "year"], unique=False, schema="wishes")
    op.create_table(
        "unit_resource",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("categories", postgresql.ARRAY(sa.String(length=8)), nullable=False),
        sa.Column("capacity", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('志愿服务','场地','法律援助','资金','物资','医疗健康','教育培训','技能服务','其他')",
            name=op.f("ck_unit_resource_kind"),
        ),
        sa.CheckConstraint("period ~ '^[0-9]{4}H[12]$'", name=op.f("ck_unit_resource_period")),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["wishes.member_unit.id"],
            name=op.f("fk_unit_resource_unit_id_member_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_resource")),
        schema="wishes",
    )
    op.create_index(
        "ix_unit_resource_unit_id", "unit_resource", ["unit_id", "period"], unique=False, schema="wishes"
    )
    op.create_table(
        "volunteer",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("party_member", sa.Boolean(), nullable=False),
        sa.Column("in_service", sa.Boolean(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_volunteer_points")),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["wishes.member_unit.id"], name=op.f("fk_volunteer_unit_id_member_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer")),
        sa.UniqueConstraint("area_code", "phone", name=op.f("uq_volunteer_area_code_phone")),
        schema="wishes",
    )
    op.create_index("ix_volunteer_unit_id", "volunteer", ["unit_id"], unique=False, schema="wishes")
    op.create_table(
        "project_progress",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.SmallInteger(), nullable=False),
        sa.Column("percent", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reported_by", sa.String(length=64), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name=op.f("ck_project_progress_percent")),
        sa.CheckConstraint("quarter BETWEEN 1 AND 4", name=op.f("ck_project_progress_quarter")),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["wishes.project.id"],
            name=op.f("fk_project_progress_project_id_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_progress")),
        sa.UniqueConstraint("project_id", "quarter", name=op.f("uq_project_progress_project_id_quarter")),
        schema="wishes",
    )
    op.create_table(
        "redemption",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(length=60), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("redeemed_by", sa.String(length=64), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("idem_key", sa.String(length=100), nullable=True),
        sa.CheckConstraint("status IN ('redeemed','cancelled')", name=op.f("ck_redemption_status")),
        sa.CheckConstraint("points > 0", name=op.f("ck_redemption_points")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_redemption_quantity")),
        sa.ForeignKeyConstraint(
            ["item_id"], ["wishes.catalogue_item.id"], name=op.f("fk_redemption_item_id_catalogue_item")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["wishes.volunteer.id"], name=op.f("fk_redemption_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption")),
        schema="wishes",
    )
    op.create_index(
        "ix_redemption_volunteer_id", "redemption", ["volunteer_id", "id"], unique=False, schema="wishes"
    )
    op.create_index(
        "uq_redemption_idem",
        "redemption",
        ["volunteer_id", "idem_key"],
        unique=True,
        schema="wishes",
        postgresql_where=sa.text("idem_key IS NOT NULL"),
    )
    op.create_table(
        "wish",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("category", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("estimated_value", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("wanted_by", sa.Date(), nullable=True),
        sa.Column("privacy", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("resident_name", sa.String(length=50), nullable=False),
        sa.Column("resident_address", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("grid_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("grid_name", sa.String(length=100), nullable=False),
        sa.Column("community_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("community_name", sa.String(length=100), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column(
            "submitted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("directed", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimant_kind", sa.String(length=10), nullable=True),
        sa.Column("claimant_unit_id", sa.Integer(), nullable=True),
        sa.Column("claimant_volunteer_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_note", sa.Text(), nullable=True),
        sa.Column("served", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_confirmed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("ever_claimed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(claimant_kind IS NULL AND claimant_unit_id IS NULL AND claimant_volunteer_id IS NULL) OR (claimant_kind = 'unit' AND claimant_unit_id IS NOT NULL) OR (claimant_kind = 'volunteer' AND claimant_volunteer_id IS NOT NULL)",
            name=op.f("ck_wish_claimant_set"),
        ),
        sa.CheckConstraint(
            "category IN ('助老','助残','助学','助困','就业','医疗健康','生活服务','其他')",
            name=op.f("ck_wish_category"),
        ),
        sa.CheckConstraint(
            "claimant_kind IS NULL OR claimant_kind IN ('unit','volunteer')", name=op.f("ck_wish_claimant")
        ),
        sa.CheckConstraint("source IN ('mini_program','grid_worker')", name=op.f("ck_wish_source")),
        sa.CheckConstraint(
            "status IN ('submitted','approved','rejected','published','claimed','in_progress','completed','confirmed','closed','cancelled')",
            name=op.f("ck_wish_status"),
        ),
        sa.CheckConstraint("estimated_value >= 0", name=op.f("ck_wish_value")),
        sa.ForeignKeyConstraint(
            ["claimant_unit_id"], ["wishes.member_unit.id"], name=op.f("fk_wish_claimant_unit_id_member_unit")
        ),
        sa.ForeignKeyConstraint(
            ["claimant_volunteer_id"],
            ["wishes.volunteer.id"],
            name=op.f("fk_wish_claimant_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish")),
        schema="wishes",
    )
    op.create_index("ix_wish_area", "wish", ["grid_code", "status"], unique=False, schema="wishes")
    op.create_index(
        "ix_wish_claimant_unit_id", "wish", ["claimant_unit_id", "status"], unique=False, schema="wishes"
    )
    op.create_index(
        "ix_wish_claimant_volunteer_id",
        "wish",
        ["claimant_volunteer_id", "status"],
        unique=False,
        schema="wishes",
    )
    op.create_index(
        "ix_wish_confirm_due",
        "wish",
        ["completed_at"],
        unique=False,
        schema="wishes",
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.create_index(
        "ix_wish_lapse_due",
        "wish",
        ["claimed_at"],
        unique=False,
        schema="wishes",
        postgresql_where=sa.text("status = 'claimed'"),
    )
    op.create_index(
        "ix_wish_resident_id",
        "wish",
        ["resident_id", sa.literal_column("id DESC")],
        unique=False,
        schema="wishes",
    )
    op.create_index("ix_wish_submitted_at", "wish", ["submitted_at"], unique=False, schema="wishes")
    op.create_index(
        "ix_wish_wall",
        "wish",
        ["community_code", sa.literal_column("published_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        schema="wishes",
        postgresql_where=sa.text("status = 'published'"),
        postgresql_include=["directed", "area_code"],
    )
    op.create_index(
        "ix_wish_wall_all",
        "wish",
        [sa.literal_column("published_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        schema="wishes",
        postgresql_where=sa.text("status = 'published'"),
        postgresql_include=["directed", "area_code"],
    )
    op.create_table(
        "points_entry",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("balance_after", sa.Integer(), nullable=False),
        sa.Column("wish_id", sa.Integer(), nullable=True),
        sa.Column("redemption_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('earn','redeem','refund','adjust')", name=op.f("ck_points_entry_kind")),
        sa.CheckConstraint("balance_after >= 0", name=op.f("ck_points_entry_balance")),
        sa.CheckConstraint("delta <> 0", name=op.f("ck_points_entry_delta")),
        sa.ForeignKeyConstraint(
            ["redemption_id"], ["wishes.redemption.id"], name=op.f("fk_points_entry_redemption_id_redemption")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["wishes.volunteer.id"], name=op.f("fk_points_entry_volunteer_id_volunteer")
        ),
        sa.ForeignKeyConstraint(["wish_id"], ["wishes.wish.id"], name=op.f("fk_points_entry_wish_id_wish")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_entry")),
        schema="wishes",
    )
    op.create_index(
        "ix_points_entry_volunteer_id", "points_entry", ["volunteer_id", "id"], unique=False, schema="wishes"
    )
    op.create_index(
        "uq_points_entry_earn",
        "points_entry",
        ["volunteer_id", "wish_id"],
        unique=True,
        schema="wishes",
        postgresql_where=sa.text("kind = 'earn' AND wish_id IS NOT NULL"),
    )
    op.create_table(
        "wish_event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["wish_id"], ["wishes.wish.id"], name=op.f("fk_wish_event_wish_id_wish"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish_event")),
        schema="wishes",
    )
    op.create_index("ix_wish_event_wish_id", "wish_event", ["wish_id", "id"], unique=False, schema="wishes")
    op.create_table(
        "wish_photo",
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("photo_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("kind IN ('request','proof')", name=op.f("ck_wish_photo_kind")),
        sa.ForeignKeyConstraint(["photo_id"], ["wishes.photo.id"], name=op.f("fk_wish_photo_photo_id_photo")),
        sa.ForeignKeyConstraint(
            ["wish_id"], ["wishes.wish.id"], name=op.f("fk_wish_photo_wish_id_wish"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wish_id", "photo_id", name=op.f("pk_wish_photo")),
        schema="wishes",
    )
    op.create_table(
        "wish_target",
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["wishes.member_unit.id"], name=op.f("fk_wish_target_unit_id_member_unit")
        ),
        sa.ForeignKeyConstraint(
            ["wish_id"], ["wishes.wish.id"], name=op.f("fk_wish_target_wish_id_wish"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("wish_id", "unit_id", name=op.f("pk_wish_target")),
        schema="wishes",
    )
    op.create_index(
        op.f("ix_wishes_wish_target_unit_id"), "wish_target", ["unit_id"], unique=False, schema="wishes"
    )
    op.execute(
        """
        CREATE FUNCTION wishes.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '%.% is append-only (全程留痕): % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in ("wish_event", "points_entry"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON wishes.{table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION wishes.append_only()"
        )


def downgrade() -> None:
    for table in ("wish_event", "points_entry"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON wishes.{table}")
    op.execute("DROP FUNCTION IF EXISTS wishes.append_only()")
    op.drop_index(op.f("ix_wishes_wish_target_unit_id"), table_name="wish_target", schema="wishes")
    op.drop_table("wish_target", schema="wishes")
    op.drop_table("wish_photo", schema="wishes")
    op.drop_index("ix_wish_event_wish_id", table_name="wish_event", schema="wishes")
    op.drop_table("wish_event", schema="wishes")
    op.drop_index(
        "uq_points_entry_earn",
        table_name="points_entry",
        schema="wishes",
        postgresql_where=sa.text("kind = 'earn' AND wish_id IS NOT NULL"),
    )
    op.drop_index("ix_points_entry_volunteer_id", table_name="points_entry", schema="wishes")
    op.drop_table("points_entry", schema="wishes")
    op.drop_index("ix_wish_wall", table_name="wish", schema="wishes")
    op.drop_index("ix_wish_wall_all", table_name="wish", schema="wishes")
    op.drop_index("ix_wish_submitted_at", table_name="wish", schema="wishes")
    op.drop_index("ix_wish_resident_id", table_name="wish", schema="wishes")
    op.drop_index(
        "ix_wish_lapse_due",
        table_name="wish",
        schema="wishes",
        postgresql_where=sa.text("status = 'claimed'"),
    )
    op.drop_index(
        "ix_wish_confirm_due",
        table_name="wish",
        schema="wishes",
        postgresql_where=sa.text("status = 'completed'"),
    )
    op.drop_index("ix_wish_claimant_volunteer_id", table_name="wish", schema="wishes")
    op.drop_index("ix_wish_claimant_unit_id", table_name="wish", schema="wishes")
    op.drop_index("ix_wish_area", table_name="wish", schema="wishes")
    op.drop_table("wish", schema="wishes")
    op.drop_index(
        "uq_redemption_idem",
        table_name="redemption",
        schema="wishes",
        postgresql_where=sa.text("idem_key IS NOT NULL"),
    )
    op.drop_index("ix_redemption_volunteer_id", table_name="redemption", schema="wishes")
    op.drop_table("redemption", schema="wishes")
    op.drop_table("project_progress", schema="wishes")
    op.drop_index("ix_volunteer_unit_id", table_name="volunteer", schema="wishes")
    op.drop_table("volunteer", schema="wishes")
    op.drop_index("ix_unit_resource_unit_id", table_name="unit_resource", schema="wishes")
    op.drop_table("unit_resource", schema="wishes")
    op.drop_index("ix_project_unit_id", table_name="project", schema="wishes")
    op.drop_index("ix_project_area_code", table_name="project", schema="wishes")
    op.drop_table("project", schema="wishes")
    op.drop_index("ix_community_need_area_code", table_name="community_need", schema="wishes")
    op.drop_table("community_need", schema="wishes")
    op.drop_table("points_rule", schema="wishes")
    op.drop_table("photo", schema="wishes")
    op.drop_index("ix_member_unit_area_code", table_name="member_unit", schema="wishes")
    op.drop_table("member_unit", schema="wishes")
    op.drop_index("ix_catalogue_item_area_code", table_name="catalogue_item", schema="wishes")
    op.drop_table("catalogue_item", schema="wishes")
    op.execute("DROP SCHEMA IF EXISTS wishes")
