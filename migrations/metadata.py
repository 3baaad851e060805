"""What the one Alembic history covers: every service's metadata, each in its own schema.

Kept apart from env.py so tests can compare the models against the database without Alembic's context.
"""

from __future__ import annotations

from services.dispatch.models import Base as DispatchBase
from services.mobile.models import Base as MobileBase
from services.registry.models import Base as RegistryBase
from services.wishes.models import Base as WishesBase

METADATAS = [RegistryBase.metadata, DispatchBase.metadata, WishesBase.metadata, MobileBase.metadata]
SCHEMAS = {m.schema for m in METADATAS}


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return obj.schema in SCHEMAS
    return True


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    if type_ == "schema":
        return name in SCHEMAS
    return True
