"""Operator commands for dispatch (settings from the environment, as for the service).

    python -m services.dispatch.cli hotline-key new --note "issued to the 12345 platform, 2026-11"
    python -m services.dispatch.cli hotline-key install --app-key hl-3f9a1c2b7d4e --secret-env HOTLINE_APP_SECRET
    python -m services.dispatch.cli hotline-key list
    python -m services.dispatch.cli hotline-key revoke hl-3f9a1c2b7d4e

`new` generates a key and prints its secret once. `install` makes sure a known key (one the platform
already holds) is active with that secret; read the secret from an environment variable rather than the
command line, which shell history and `ps` can see. The same is possible over the API
(`/api/v1/hotline/keys`, district admins).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from services.dispatch.hotline import keys
from services.dispatch.settings import DispatchSettings
from shared.crypto import Sealer
from shared.db import make_engine, make_sessionmaker
from shared.problems import Problem

ACTOR = "cli"


async def _run(args: argparse.Namespace) -> int:
    settings = DispatchSettings()  # type: ignore[call-arg]
    sealer = Sealer(settings.secrets_key_bytes)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if args.action == "new":
                row, secret = await keys.create_key(session, sealer, actor=ACTOR, note=args.note)
                print(f"app_key {row.app_key}")
                print(f"app_secret (shown once): {secret}")
            elif args.action == "install":
                secret = os.environ.get(args.secret_env, "") if args.secret_env else (args.secret or "")
                if len(secret) < 16:
                    print(
                        "the secret must be given (--secret or --secret-env) and be 16+ characters",
                        file=sys.stderr,
                    )
                    return 2
                outcome = await keys.install_key(session, sealer, args.app_key, secret, actor=ACTOR)
                print(f"hotline key {args.app_key}: {outcome}")
            elif args.action == "list":
                for k in await keys.list_keys(session):
                    print(f"{k.app_key}\t{k.status}\t{k.created_at:%Y-%m-%d %H:%M}\t{k.note or ''}")
            elif args.action == "revoke":
                await keys.revoke_key(session, args.app_key, actor=ACTOR)
                print(f"hotline key {args.app_key}: revoked")
    except Problem as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.dispatch.cli", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    hk = sub.add_parser("hotline-key", help="the 12345 platform's app keys")
    actions = hk.add_subparsers(dest="action", required=True)
    new = actions.add_parser("new", help="issue a new key (at most two active)")
    new.add_argument("--note", default=None)
    inst = actions.add_parser("install", help="make sure a known key is active with this secret")
    inst.add_argument("--app-key", required=True)
    src = inst.add_mutually_exclusive_group(required=True)
    src.add_argument("--secret", help="the secret itself (visible in shell history; prefer --secret-env)")
    src.add_argument("--secret-env", help="name of an environment variable holding the secret")
    actions.add_parser("list", help="keys and their status (never secrets)")
    rev = actions.add_parser("revoke", help="stop accepting a key")
    rev.add_argument("app_key")
    return asyncio.run(_run(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
