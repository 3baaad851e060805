"""SQL is built only with bound parameters.

Every call that takes SQL text in services/ and shared/ (`text()`, `literal_column()`, `.execute()`,
`exec_driver_sql()`, asyncpg's `fetch*`/`executemany`/`copy_*`) is found with `ast`. Its SQL argument
must be a constant, or built only from constants: string literals, module-level constants, ints
(`int(...)`) and helpers over constants. An f-string, `%`, `+` or `.format()` with anything else is a
finding, unless ALLOWED names it with the reason it is safe.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tools.db import ROOT

SINKS = {
    "text",
    "literal_column",
    "execute",
    "exec_driver_sql",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
    "copy_records_to_table",
    "copy_to_table",
    "copy_from_query",
}
# Calls whose result is safe to put in SQL whatever they are given.
SAFE_CALLS = {"int", "float", "len", "bool"}

# (file, the source of the unsafe piece) -> why it is safe. Keep each reason to one line.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "services/mobile/reports/service.py",
        "_list_sql(status, after is not None)",
    ): "joins fixed fragments (SQL_FILTER[status] is a constant dict lookup); values go as $1..$3",
}
# Driver calls (`conn.fetch(sql)`) are methods; a plain function of these names is a local helper.
METHOD_SINKS = SINKS - {"text", "literal_column"}


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            out[node.target.id] = node.value
    return out


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.rel = str(path.relative_to(ROOT))
        self.consts = _module_constants(tree)
        self.source = path.read_text(encoding="utf-8")
        self.findings: list[str] = []
        self.allowed_used: set[tuple[str, str]] = set()
        self.sinks = 0
        self._func_assigns: list[dict[str, list[ast.expr]]] = []
        # `text` and `literal_column` count only where they are SQLAlchemy's (report.py has an SVG `text`)
        self.sql_names = {
            a.asname or a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("sqlalchemy")
            for a in n.names
        }

    # local variables: every assignment in the enclosing function must be static
    def _visit_func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        assigns: dict[str, list[ast.expr]] = {}
        # a parameter annotated with a non-string type (session: AsyncSession) and a `with … as` target
        # (a session or connection) cannot carry SQL text
        not_text = ast.Constant(value=None)
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if a.annotation is not None and "str" not in ast.unparse(a.annotation):
                assigns.setdefault(a.arg, []).append(not_text)
        for sub in ast.walk(node):
            if isinstance(sub, (ast.With, ast.AsyncWith)):
                for item in sub.items:
                    if isinstance(item.optional_vars, ast.Name):
                        assigns.setdefault(item.optional_vars.id, []).append(not_text)
            if isinstance(sub, ast.Assign):
                for t in sub.targets:
                    if isinstance(t, ast.Name):
                        assigns.setdefault(t.id, []).append(sub.value)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                assigns.setdefault(sub.target.id, []).append(sub.value)
            elif isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name) and sub.value:
                assigns.setdefault(sub.target.id, []).append(sub.value)
            elif isinstance(sub, (ast.For, ast.AsyncFor, ast.comprehension)):
                for t in ast.walk(sub.target):
                    if isinstance(t, ast.Name):
                        assigns.setdefault(t.id, []).append(sub.iter)
        self._func_assigns.append(assigns)
        self.generic_visit(node)
        self._func_assigns.pop()

    visit_FunctionDef = _visit_func
    visit_AsyncFunctionDef = _visit_func

    def _static(self, e: ast.expr, seen: frozenset[str] = frozenset()) -> bool:
        if isinstance(e, ast.Constant):
            return True
        if isinstance(e, ast.Name):
            if e.id in seen:
                return True
            for scope in reversed(self._func_assigns):
                if e.id in scope:
                    return all(self._static(v, seen | {e.id}) for v in scope[e.id])
            if e.id in self.consts:
                return self._static(self.consts[e.id], seen | {e.id})
            return e.id.isupper()  # an imported constant
        if isinstance(e, ast.Attribute):
            return isinstance(e.value, ast.Name) and e.attr.isupper()
        if isinstance(e, ast.JoinedStr):
            return all(self._static(v.value) for v in e.values if isinstance(v, ast.FormattedValue))
        if isinstance(e, ast.BinOp):
            return self._static(e.left, seen) and self._static(e.right, seen)
        if isinstance(e, (ast.Tuple, ast.List, ast.Set)):
            return all(self._static(x, seen) for x in e.elts)
        if isinstance(e, ast.Call):
            name = e.func.id if isinstance(e.func, ast.Name) else getattr(e.func, "attr", "")
            if name in SAFE_CALLS:
                return True
            if name == "format" or name == "join":
                parts = [e.func.value] if isinstance(e.func, ast.Attribute) else []
                return all(self._static(a, seen) for a in [*parts, *e.args, *(k.value for k in e.keywords)])
            # a helper over constants (sql_in(OPEN_STATUSES)) is static; SQLAlchemy constructs bind values
            return all(self._static(a, seen) for a in e.args) if _is_string_building(e) else True
        if isinstance(e, ast.IfExp):
            return self._static(e.body, seen) and self._static(e.orelse, seen)
        return False

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            name = node.func.id if node.func.id in self.sql_names else None
        elif isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name not in METHOD_SINKS and not (
                isinstance(node.func.value, ast.Name) and node.func.value.id in ("sa", "sqlalchemy")
            ):
                name = None
        else:
            name = None
        if name in SINKS and node.args:
            self.sinks += 1
            arg = node.args[0]
            if isinstance(arg, (ast.JoinedStr, ast.BinOp, ast.Name, ast.Call)) and not self._static(arg):
                piece = ast.get_source_segment(self.source, arg) or ast.dump(arg)
                key = (self.rel, piece)
                if key in ALLOWED:
                    self.allowed_used.add(key)
                else:
                    self.findings.append(f"{self.rel}:{node.lineno}: {name}({piece[:120]})")
        self.generic_visit(node)


def _is_string_building(call: ast.Call) -> bool:
    """Calls that return SQL text made of their arguments (helpers named like it in this code base)."""
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    return name.startswith("sql") or name.endswith("_sql")


def _scan() -> tuple[list[str], set[tuple[str, str]], int, int]:
    findings: list[str] = []
    used: set[tuple[str, str]] = set()
    sinks = files = 0
    for top in ("services", "shared"):
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            s = _Scanner(path, tree)
            s.visit(tree)
            findings += s.findings
            used |= s.allowed_used
            sinks += s.sinks
            files += 1
    return findings, used, sinks, files


def test_sql_is_built_only_from_constants_and_bound_parameters() -> None:
    findings, used, sinks, files = _scan()
    assert not findings, "SQL built from non-constant values:\n" + "\n".join(findings)
    assert files > 50 and sinks > 100, (files, sinks)
    stale = set(ALLOWED) - used
    assert not stale, f"ALLOWED entries that no longer match any code: {stale}"


def test_the_scanner_finds_string_built_sql(tmp_path: Path) -> None:
    """The scanner itself: each way of splicing a value into SQL is found, constants are not."""
    src = """
from sqlalchemy import text
LIMIT = 5
async def f(session, name, n):
    await session.execute(text(f"SELECT * FROM t WHERE name = '{name}'"))
    await session.execute(text("SELECT * FROM t WHERE name = '%s'" % name))
    await session.execute(text("SELECT * FROM t WHERE name = '" + name + "'"))
    await session.execute(text("SELECT * FROM t WHERE name = '{}'".format(name)))
    q = "SELECT " + name
    await session.execute(text(q))
    await conn.fetch(f"SELECT {name}")
    await session.execute(text("SELECT * FROM t WHERE name = :n"), {"n": name})
    await session.execute(text(f"SELECT * FROM t LIMIT {LIMIT}"))
    await session.execute(text(f"SET LOCAL statement_timeout = {int(n)}"))
"""
    path = ROOT / "services" / "_scanner_probe.py"
    tree = ast.parse(src)
    s = _Scanner.__new__(_Scanner)
    s.path, s.rel, s.consts, s.source = path, "probe", _module_constants(tree), src
    s.findings, s.allowed_used, s.sinks, s._func_assigns = [], set(), 0, []
    s.sql_names = {"text"}
    s.visit(tree)
    lines = sorted(int(f.split(":")[1]) for f in s.findings)
    assert lines == [5, 6, 7, 8, 10, 11], s.findings
