"""The shape docs/ARCHITECTURE.md describes, held: stages depend only on the stages below them, no
module imports one that imports it back, no SQL outside engine/store/, and the engine never loads the
terminal libraries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "ticketctl" / "engine"
# Bottom to top: a stage may import its own modules and those of the stages before it.
STAGES = ("base", "mail", "store", "oauth", "outbound", "flows", "intake", "admin", "desk")
BASE = {"config", "errors", "enums"}
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|BEGIN|COMMIT|ROLLBACK|ANALYZE)\b")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "ticketctl").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every ticketctl module `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != name}


def stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] != ["ticketctl", "engine"] or len(parts) < 3:
        return None
    return "base" if parts[2] in BASE else parts[2]


def test_every_engine_module_is_in_a_stage():
    unplaced = [m for m in modules() if stage(m) not in (*STAGES, None)]
    assert unplaced == []


def test_stages_depend_only_on_the_stages_below():
    wrong = []
    for name, path in modules().items():
        own = stage(name)
        if own is None:
            continue
        for target in imports(name, path):
            other = stage(target)
            if other is None:
                wrong.append(f"{name} imports {target}, outside the engine")
            elif STAGES.index(other) > STAGES.index(own):
                wrong.append(f"{name} ({own}) imports {target} ({other})")
    assert wrong == []


def test_no_module_imports_one_that_imports_it_back():
    graph = {name: imports(name, path) for name, path in modules().items()}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in trail:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in done:
                visit(nxt, [*trail, nxt])
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    packages = {m for m, p in modules().items() if p.name == "__init__.py"}
    # a package's __init__ importing its own submodules is how a package is assembled, not a cycle
    real = [c for c in cycles if not any(c.startswith(p + " -> " + p + ".") for p in packages)]
    assert real == []


def test_no_sql_outside_the_store():
    found = []
    for name, path in modules().items():
        if name.startswith("ticketctl.engine.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                found.append(f"{name}:{node.lineno}: {node.value[:40]!r}")
            if isinstance(node, ast.Attribute) and node.attr in ("execute", "executemany", "executescript", "conn"):
                found.append(f"{name}:{node.lineno}: .{node.attr}")
    assert found == []


def test_the_engine_never_loads_the_terminal():
    engine = sorted(m for m in modules() if m.startswith("ticketctl.engine."))
    code = f"import sys\nfor m in {engine!r}: __import__(m)\n" + (
        "print(sorted(m for m in ('typer', 'rich', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
