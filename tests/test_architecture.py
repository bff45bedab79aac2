"""The layout is one-way: a module imports only from its own stage or the stages before it.

Data flows io → decode → reduce → run → out, and the front ends (``exports``, ``cli``,
``generate``) sit on top.  Every ``import`` in the package is checked, including the ones inside
functions (a lazy import is still a dependency), so a stage that reaches back up fails here with
the file, the line and the two stages named.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jobstream"

# The rank of each stage: a module may import from a rank lower than or equal to its own.
RANKS = {
    "jobstream": 0,  # the package root: lazy re-exports only (checked apart, below)
    "jobstream.errors": 0,
    "jobstream.times": 0,
    "jobstream.columns": 0,
    "jobstream.io": 1,
    "jobstream.decode": 2,
    "jobstream.reduce": 3,
    "jobstream.run": 4,
    "jobstream.out": 5,
    "jobstream.exports": 6,
    "jobstream.generate": 6,
    "jobstream.cli": 7,
    "jobstream.__main__": 7,
}


# The one exception, and why: issue 14 promised ``JobTable.to_arrow/to_pandas/to_polars``, the
# spelling a dataframe user expects (as pandas' ``DataFrame.to_parquet`` calls into pandas.io).
# They import jobstream.out.arrow when called, never at import time, and hold no code of their own.
UPWARD = {("jobstream.reduce.reducer", "jobstream.out.arrow")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    where = PACKAGE.parent.joinpath(*name.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def rank(module: str) -> tuple[str, int]:
    """The stage *module* belongs to and its rank (the longest known prefix wins)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        stage = ".".join(parts[:n])
        if stage in RANKS:
            return stage, RANKS[stage]
    raise AssertionError(f"{module} belongs to no stage: add it to RANKS")


def imports(path: Path) -> list[tuple[int, str]]:
    """Every jobstream module *path* imports, with its line, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "jobstream"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "jobstream":
                continue
            for a in node.names:  # ``from .run import state`` imports a module: name it
                sub = f"{target}.{a.name}"
                if a.name == "__version__":  # the root's one value of its own
                    continue
                found.append((node.lineno, sub if is_module(sub) else target))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_stage() -> None:
    for path in MODULES:
        rank(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up_a_stage(path: Path) -> None:
    name = module_name(path)
    if name == "jobstream":
        return  # the root re-exports every stage lazily (PEP 562); it holds no code of its own
    stage, own = rank(name)
    wrong = []
    for lineno, target in imports(path):
        if target == "jobstream":
            wrong.append(f"{path.relative_to(PACKAGE)}:{lineno}: imports the package root (import the module itself)")
            continue
        other, theirs = rank(target)
        if theirs > own and (name, target) not in UPWARD:
            wrong.append(f"{path.relative_to(PACKAGE)}:{lineno}: {stage} imports {target} ({other} comes after it)")
    assert not wrong, "\n".join(wrong)


def test_the_exception_stays_lazy() -> None:
    """The upward import allowed above happens inside a method, never when the module loads."""
    tree = ast.parse((PACKAGE / "reduce" / "reducer.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in top if "out" in (getattr(n, "module", "") or "")]


def test_no_private_name_crosses_a_module() -> None:
    """``from .x import _name`` couples two modules through something one of them calls private."""
    wrong = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("jobstream")):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        wrong.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: imports {alias.name}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_resolves_relative_imports() -> None:
    """The rules above could pass by seeing nothing: the imports they check are the real ones."""
    found = {target for _, target in imports(PACKAGE / "run" / "reader.py")}
    assert {"jobstream.decode.step", "jobstream.io.framing", "jobstream.errors"} <= found, found
    assert "jobstream.run.state" in {t for _, t in imports(PACKAGE / "exports.py")}  # a lazy one, in a function
    assert rank("jobstream.out.sinks") == ("jobstream.out", 5)
    assert rank("jobstream.run.batch")[1] > rank("jobstream.reduce.reducer")[1]


def test_architecture_md_names_every_module_and_only_real_ones() -> None:
    """ARCHITECTURE.md's table lists each stage's files: it must match the tree."""
    import re

    doc = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    listed: set[str] = set()
    for row in re.findall(r"^\| (?:[0-9] )?`?([a-z]+)/?`? \| (.+?) \|", doc, re.M):
        stage, files = row
        folder = "" if stage in ("base", "front") else stage
        for name in re.findall(r"`([a-z_]+\.py|[a-z]+/)`", files):
            listed.add(f"{folder}/{name}".lstrip("/"))
    real = {str(p.relative_to(PACKAGE)) for p in MODULES if p.name not in ("__init__.py", "__main__.py")}
    real = {r for r in real if not r.startswith("cli/")} | {"cli/"}
    assert listed == real, (
        f"missing from ARCHITECTURE.md: {sorted(real - listed)}; not in the tree: {sorted(listed - real)}"
    )


def test_the_tests_architecture_md_cites_exist() -> None:
    """Each invariant names the test files that hold it: they must be real files."""
    import re

    doc = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    cited = set(re.findall(r"`(test_[a-z_]+)`", doc))
    assert cited, "ARCHITECTURE.md cites no tests"
    tests = PACKAGE.parent / "tests"
    assert {c for c in cited if not (tests / f"{c}.py").exists()} == set()
