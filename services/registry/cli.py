"""Operator commands for a real deployment (no demo data).

    python -m services.registry.cli bootstrap --district 320411 --name 新北区 --admin wang.admin
    python -m services.registry.cli service-account dispatch
    python -m services.registry.cli reset-password wang.admin

`bootstrap` creates the district and its first district_admin; everything else is then done through
the API. Passwords and secrets are generated and printed once; nothing is fixed in code. Settings come
from the environment as for the service (DATABASE_URL, REGISTRY_DATA_KEY, REGISTRY_LOOKUP_KEY).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys

from sqlalchemy import insert, select, update

from services.registry.crypto import hash_password
from services.registry.models import Area, StaffAccount
from services.registry.service.accounts import new_password, upsert_service_account
from services.registry.settings import RegistrySettings
from shared.db import make_engine, make_sessionmaker


async def _run(args: argparse.Namespace) -> int:
    settings = RegistrySettings()  # type: ignore[call-arg]
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if args.command == "bootstrap":
                if not re.fullmatch(r"[0-9]{6}", args.district):
                    print("--district is the 6-digit national division code (区划代码)", file=sys.stderr)
                    return 2
                if (await session.execute(select(Area.id).where(Area.code == args.district))).first():
                    print(f"district {args.district} already exists; nothing done", file=sys.stderr)
                    return 1
                await session.execute(
                    insert(Area).values(level="district", code=args.district, name=args.name)
                )
                password = new_password()
                await session.execute(
                    insert(StaffAccount).values(
                        username=args.admin,
                        password_hash=hash_password(password),
                        role="district_admin",
                        scope=[args.district],
                        display_name=f"{args.name}管理员",
                    )
                )
                print(f"district {args.district} {args.name} created")
                print(f"district_admin {args.admin} password (shown once): {password}")
            elif args.command == "service-account":
                secret = secrets.token_urlsafe(24)
                await upsert_service_account(session, args.name, secret)
                print(f"client_id svc-{args.name}")
                print(f"client_secret (shown once): {secret}")
            elif args.command == "reset-password":
                password = new_password()
                done = await session.execute(
                    update(StaffAccount)
                    .where(StaffAccount.username == args.username)
                    .values(password_hash=hash_password(password), failed_logins=0, locked_until=None)
                )
                if not done.rowcount:
                    print(f"no account {args.username}", file=sys.stderr)
                    return 1
                print(f"{args.username} password (shown once): {password}")
        return 0
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.cli", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bootstrap", help="create the district and its first district_admin")
    b.add_argument("--district", required=True)
    b.add_argument("--name", required=True)
    b.add_argument("--admin", required=True)
    s = sub.add_parser("service-account", help="create or re-key the machine account svc-NAME")
    s.add_argument("name", choices=["dispatch", "wishes", "mobile"])
    r = sub.add_parser("reset-password", help="new random password for a staff account; unlocks it")
    r.add_argument("username")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
