"""Write or check openapi/<service>.json from each service's app (no database needed).

python -m tools.openapi write
python -m tools.openapi check    # exit 1 when a committed document is out of date
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import secrets
import sys
from typing import Any

from tools.db import ROOT

SERVICES = ["registry", "dispatch", "wishes", "mobile"]
OUT = ROOT / "openapi"


def _placeholder_env() -> None:
    """Settings need secrets to construct; the documents do not depend on their values."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    for name in ("REGISTRY_DATA_KEY", "REGISTRY_LOOKUP_KEY", "DISPATCH_SECRETS_KEY", "MOBILE_TOKEN_KEY"):
        os.environ.setdefault(name, key)
    os.environ.setdefault("DATABASE_URL", "postgresql+asyncpg://openapi@localhost/openapi")
    for name in ("DISPATCH", "WISHES", "MOBILE"):
        os.environ.setdefault(f"{name}_CLIENT_SECRET", secrets.token_urlsafe(24))


def documents() -> dict[str, dict[str, Any]]:
    _placeholder_env()
    docs = {}
    for name in SERVICES:
        if not (ROOT / "services" / name / "app.py").exists():
            continue
        module = importlib.import_module(f"services.{name}.app")
        app = module.create_app()
        docs[name] = app.openapi()
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args()
    stale = []
    for name, doc in documents().items():
        path = OUT / f"{name}.json"
        text = render(doc)
        if args.command == "write":
            OUT.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(str(path.relative_to(ROOT)))
    if stale:
        print("out of date (run `make openapi` and commit): " + ", ".join(stale), file=sys.stderr)
        return 1
    if args.command == "check":
        print("openapi/ is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
