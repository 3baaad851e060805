"""registry initial

Revision ID: 0001
Revises:
Create Date: 2026-11-21 22:20:03.215095
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS registry")
    op.create_table(
        "area",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("grid_kind", sa.String(length=16), nullable=True),
        sa.Column("management_type", sa.String(length=16), nullable=True),
        sa.Column("boundary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("min_lng", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lng", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(level = 'district') = (parent_id IS NULL)", name=op.f("ck_area_parent_presence")
        ),
        sa.CheckConstraint(
            "char_length(code) = CASE level WHEN 'district' THEN 6 WHEN 'street' THEN 9 WHEN 'community' THEN 12 WHEN 'grid' THEN 15 ELSE 18 END AND code ~ '^[0-9]+$'",
            name=op.f("ck_area_code_shape"),
        ),
        sa.CheckConstraint(
            "level IN ('district','street','community','grid','micro_grid')", name=op.f("ck_area_level")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["registry.area.id"], name=op.f("fk_area_parent_id_area"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_area")),
        sa.UniqueConstraint("code", name=op.f("uq_area_code")),
        schema="registry",
    )
    op.create_index(
        "ix_area_bbox", "area", ["min_lng", "max_lng", "min_lat", "max_lat"], unique=False, schema="registry"
    )
    op.create_index(
        op.f("ix_registry_area_parent_id"), "area", ["parent_id"], unique=False, schema="registry"
    )
    op.create_table(
        "map_revision",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_map_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_revision")),
        schema="registry",
    )
    op.execute("INSERT INTO registry.map_revision (id, rev) VALUES (1, 0)")
    op.create_table(
        "pii_access",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pii_access")),
        schema="registry",
    )
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_cipher", sa.Text(), nullable=False),
        sa.Column("public_jwk", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_key")),
        schema="registry",
    )
    op.create_table(
        "staff_account",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.ARRAY(sa.String(length=64)), server_default="{}", nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.SmallInteger(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "role IN ('district_admin','street_dispatcher','community_admin','grid_worker','department_handler','unit_liaison','integration','service')",
            name=op.f("ck_staff_account_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_account")),
        sa.UniqueConstraint("username", name=op.f("uq_staff_account_username")),
        schema="registry",
    )
    op.create_table(
        "building",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("micro_grid_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("unit_count", sa.SmallInteger(), nullable=False),
        sa.Column("floor_count", sa.SmallInteger(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["micro_grid_id"],
            ["registry.area.id"],
            name=op.f("fk_building_micro_grid_id_area"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint("code", name=op.f("uq_building_code")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_building_area_code"), "building", ["area_code"], unique=False, schema="registry"
    )
    op.create_index(
        op.f("ix_registry_building_micro_grid_id"),
        "building",
        ["micro_grid_id"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "grid_staff",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("service_phone", sa.String(length=20), nullable=True),
        sa.Column("personal_phone", sa.String(length=16), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["registry.staff_account.id"],
            name=op.f("fk_grid_staff_account_id_staff_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["registry.area.id"], name=op.f("fk_grid_staff_grid_id_area"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_staff")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_grid_staff_grid_id"), "grid_staff", ["grid_id"], unique=False, schema="registry"
    )
    op.create_table(
        "party_org",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("secretary_name", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('committee','branch','group')", name=op.f("ck_party_org_kind")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["registry.area.id"],
            name=op.f("fk_party_org_community_id_area"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["registry.party_org.id"],
            name=op.f("fk_party_org_parent_id_party_org"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_org")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_party_org_area_code"), "party_org", ["area_code"], unique=False, schema="registry"
    )
    op.create_index(
        op.f("ix_registry_party_org_community_id"),
        "party_org",
        ["community_id"],
        unique=False,
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_party_org_parent_id"), "party_org", ["parent_id"], unique=False, schema="registry"
    )
    op.create_table(
        "household",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("unit_no", sa.String(length=8), nullable=False),
        sa.Column("room_no", sa.String(length=16), nullable=False),
        sa.Column("occupancy", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["registry.building.id"],
            name=op.f("fk_household_building_id_building"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint(
            "building_id", "unit_no", "room_no", name=op.f("uq_household_building_id_unit_no_room_no")
        ),
        sa.UniqueConstraint("code", name=op.f("uq_household_code")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_household_area_code"), "household", ["area_code"], unique=False, schema="registry"
    )
    op.create_index(
        op.f("ix_registry_household_building_id"),
        "household",
        ["building_id"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "resident",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=32, collation="C"), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("id_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("id_cipher", sa.Text(), nullable=False),
        sa.Column("id_masked", sa.String(length=18), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.ARRAY(sa.String(length=16)), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("gender IN ('M','F')", name=op.f("ck_resident_gender")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_resident_household_id_household"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_resident_id_hash")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_resident_area_code"), "resident", ["area_code"], unique=False, schema="registry"
    )
    op.create_index(
        op.f("ix_registry_resident_household_id"),
        "resident",
        ["household_id"],
        unique=False,
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_resident_phone"), "resident", ["phone"], unique=False, schema="registry"
    )
    op.create_index(
        "ix_resident_tags", "resident", ["tags"], unique=False, schema="registry", postgresql_using="gin"
    )
    op.create_table(
        "household_link",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("party_org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('party_central','representative')", name=op.f("ck_household_link_kind")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["registry.household.id"],
            name=op.f("fk_household_link_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_org_id"],
            ["registry.party_org.id"],
            name=op.f("fk_household_link_party_org_id_party_org"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["registry.resident.id"],
            name=op.f("fk_household_link_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_link")),
        sa.UniqueConstraint("kind", "household_id", name=op.f("uq_household_link_kind_household_id")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_household_link_household_id"),
        "household_link",
        ["household_id"],
        unique=False,
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_household_link_resident_id"),
        "household_link",
        ["resident_id"],
        unique=False,
        schema="registry",
    )
    op.create_table(
        "resident_move",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("from_household_id", sa.Integer(), nullable=False),
        sa.Column("to_household_id", sa.Integer(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("moved_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_household_id"],
            ["registry.household.id"],
            name=op.f("fk_resident_move_from_household_id_household"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["registry.resident.id"],
            name=op.f("fk_resident_move_resident_id_resident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_household_id"],
            ["registry.household.id"],
            name=op.f("fk_resident_move_to_household_id_household"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_move")),
        schema="registry",
    )
    op.create_index(
        op.f("ix_registry_resident_move_resident_id"),
        "resident_move",
        ["resident_id"],
        unique=False,
        schema="registry",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_registry_resident_move_resident_id"), table_name="resident_move", schema="registry"
    )
    op.drop_table("resident_move", schema="registry")
    op.drop_index(
        op.f("ix_registry_household_link_resident_id"), table_name="household_link", schema="registry"
    )
    op.drop_index(
        op.f("ix_registry_household_link_household_id"), table_name="household_link", schema="registry"
    )
    op.drop_table("household_link", schema="registry")
    op.drop_index("ix_resident_tags", table_name="resident", schema="registry", postgresql_using="gin")
    op.drop_index(op.f("ix_registry_resident_phone"), table_name="resident", schema="registry")
    op.drop_index(op.f("ix_registry_resident_household_id"), table_name="resident", schema="registry")
    op.drop_index(op.f("ix_registry_resident_area_code"), table_name="resident", schema="registry")
    op.drop_table("resident", schema="registry")
    op.drop_index(op.f("ix_registry_household_building_id"), table_name="household", schema="registry")
    op.drop_index(op.f("ix_registry_household_area_code"), table_name="household", schema="registry")
    op.drop_table("household", schema="registry")
    op.drop_index(op.f("ix_registry_party_org_parent_id"), table_name="party_org", schema="registry")
    op.drop_index(op.f("ix_registry_party_org_community_id"), table_name="party_org", schema="registry")
    op.drop_index(op.f("ix_registry_party_org_area_code"), table_name="party_org", schema="registry")
    op.drop_table("party_org", schema="registry")
    op.drop_index(op.f("ix_registry_grid_staff_grid_id"), table_name="grid_staff", schema="registry")
    op.drop_table("grid_staff", schema="registry")
    op.drop_index(op.f("ix_registry_building_micro_grid_id"), table_name="building", schema="registry")
    op.drop_index(op.f("ix_registry_building_area_code"), table_name="building", schema="registry")
    op.drop_table("building", schema="registry")
    op.drop_table("staff_account", schema="registry")
    op.drop_table("signing_key", schema="registry")
    op.drop_table("pii_access", schema="registry")
    op.drop_table("map_revision", schema="registry")
    op.drop_index(op.f("ix_registry_area_parent_id"), table_name="area", schema="registry")
    op.drop_index("ix_area_bbox", table_name="area", schema="registry")
    op.drop_table("area", schema="registry")
    op.execute("DROP SCHEMA IF EXISTS registry")
