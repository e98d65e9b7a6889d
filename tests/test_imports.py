"""Each third-party package has one home (STYLE.md); walk the imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "monitor"
HOMES = {
    "httpx": {"feeds/fetch.py"},
    "feedparser": {"feeds/parse.py"},
    "rapidfuzz": {"matching/matcher.py"},
    "sqlite_utils": {"storage/store.py"},
    "sqlite3": {"storage/store.py"},
    "telegram": {"delivery/telegram.py", "bot/app.py"},
    "apscheduler": {"pipeline/scheduler.py"},
}
PURE = {"matching/matcher.py", "text/textnorm.py"}
IO_MODULES = {"os", "io", "socket", "subprocess", "pathlib", "open", "shutil", "asyncio"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def modules():
    return {p.relative_to(PACKAGE).as_posix(): p for p in PACKAGE.rglob("*.py")}


def test_third_party_packages_stay_in_their_home_module():
    offenders = [
        f"{name} imports {package}"
        for name, path in modules().items()
        for package, homes in HOMES.items()
        if package in imported_roots(path) and name not in homes
    ]
    assert offenders == []


def test_matcher_and_textnorm_do_no_io():
    for name in PURE:
        assert imported_roots(PACKAGE / name).isdisjoint(IO_MODULES | set(HOMES) - {"rapidfuzz"}), (
            name
        )


def test_only_store_writes_sql():
    keywords = ("SELECT ", "INSERT ", "UPDATE ", "CREATE TABLE", "DELETE FROM")
    offenders = [
        name
        for name, path in modules().items()
        if name != "storage/store.py"
        and any(k in path.read_text(encoding="utf-8") for k in keywords)
    ]
    assert offenders == []
