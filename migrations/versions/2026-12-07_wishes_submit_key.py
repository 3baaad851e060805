"""wishes: an Idempotency-Key per caller on 点单, so a retry however late gets the wish already made

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("wish", sa.Column("submit_key", sa.String(length=100), nullable=True), schema="wishes")
    op.create_index(
        "uq_wish_submit_key",
        "wish",
        ["submitted_by", "submit_key"],
        unique=True,
        schema="wishes",
        postgresql_where=sa.text("submit_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_wish_submit_key", table_name="wish", schema="wishes")
    op.drop_column("wish", "submit_key", schema="wishes")
