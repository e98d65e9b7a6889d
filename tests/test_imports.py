"""The house rules of the layout (STYLE.md, README "Where things are"), walked with ast.

- each third-party package has one home;
- the matcher and text folding do no I/O;
- only `storage/` writes SQL;
- sub-packages are layered: a package imports only its own and lower ones;
- each package says what it owns in its `__init__` docstring, and no module
  grows past 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
HOMES = {
    "httpx": {"feeds/fetch.py", "feeds/compat.py"},
    "sniffio": {"feeds/compat.py"},
    "feedparser": {"feeds/parse.py", "feeds/compat.py"},
    "rapidfuzz": {"matching/matcher.py"},
    "sqlite_utils": {"storage/"},
    "sqlite3": {"storage/"},
    "psycopg": {"storage/postgres/"},
    "psycopg_pool": {"storage/postgres/"},
    "telegram": {"delivery/telegram.py", "bot/"},
    "apscheduler": {"pipeline/scheduler.py"},
}
PURE = {"matching/matcher.py", "text/textnorm.py"}
IO_MODULES = {"os", "io", "socket", "subprocess", "pathlib", "open", "shutil", "asyncio"}
# lowest first; a package may import its own modules and those of any lower layer
LAYERS = [
    {"core"},
    {"text"},
    {"matching"},
    {"seeds", "feeds"},
    {"storage"},
    {"delivery"},
    {"digests"},
    {"pipeline"},
    {"bot"},
    {"cli"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
MAX_LINES = 400


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def monitor_imports(path: Path) -> set[str]:
    """The monitor sub-packages a module imports (`monitor.storage.hits` -> "storage")."""
    found = set()
    for node in ast.walk(tree(path)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the layout uses absolute ones)"
            names = [node.module or ""]
            if node.module == "monitor":
                names = [f"monitor.{alias.name}" for alias in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("monitor.")}
    return found


def modules():
    return {p.relative_to(PACKAGE).as_posix(): p for p in PACKAGE.rglob("*.py")}


def package_of(name: str) -> str | None:
    return name.split("/")[0] if "/" in name else None


def at_home(name: str, homes: set[str]) -> bool:
    return any(name == home or (home.endswith("/") and name.startswith(home)) for home in homes)


def test_third_party_packages_stay_in_their_home_module():
    offenders = [
        f"{name} imports {package}"
        for name, path in modules().items()
        for package, homes in HOMES.items()
        if package in imported_roots(path) and not at_home(name, homes)
    ]
    assert offenders == []


def test_matcher_and_textnorm_do_no_io():
    for name in PURE:
        assert imported_roots(PACKAGE / name).isdisjoint(IO_MODULES | set(HOMES) - {"rapidfuzz"}), (
            name
        )


def test_only_storage_writes_sql():
    keywords = ("SELECT ", "INSERT ", "UPDATE ", "CREATE TABLE", "DELETE FROM")
    offenders = [
        name
        for name, path in modules().items()
        if package_of(name) != "storage"
        and any(k in path.read_text(encoding="utf-8") for k in keywords)
    ]
    assert offenders == []


def test_every_module_lives_in_a_known_package():
    loose = {name for name in modules() if package_of(name) is None}
    assert loose == {"__init__.py", "__main__.py"}
    assert {package_of(name) for name in modules()} - {None} == set(RANK)


def test_no_package_imports_a_higher_one():
    offenders = sorted(
        f"{name} imports monitor.{target}"
        for name, path in modules().items()
        if (package := package_of(name)) is not None
        for target in monitor_imports(path)
        if not target.startswith("__") and RANK.get(target, len(LAYERS)) > RANK[package]
    )
    assert offenders == []


def test_the_layer_rule_sees_a_violation(tmp_path):
    """The rule above is not vacuous: an upward import is found."""
    module = tmp_path / "cycle.py"
    module.write_text("from monitor.bot.app import build_application\nimport monitor.cli.main\n")
    assert monitor_imports(module) == {"bot", "cli"}


def test_each_package_says_what_it_owns_and_may_import():
    for package in RANK:
        doc = ast.get_docstring(tree(PACKAGE / package / "__init__.py")) or ""
        assert len(doc.splitlines()) >= 3 and "import" in doc.lower(), package


def test_no_module_is_over_400_lines():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
