"""`monitor migrate`: the schema migrations of either backend, listed by name and
applied, run as a user runs it (subprocesses)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from conftest import run_monitor

from monitor.storage.schema import migrations

SQLITE_NAMES = [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]


def write_config(folder: Path, storage: str) -> Path:
    path = folder / "config.toml"
    path.write_text(f"[storage]\n{storage}\n", encoding="utf-8")
    return path


def listed(stdout: str) -> dict[str, str]:
    """`applied`/`pending` per migration name, as the command lists them."""
    rows = [line.split() for line in stdout.splitlines() if line.startswith("  ")]
    return {row[1]: row[0] for row in rows if row[0] in ("applied", "pending")}


def test_sqlite_dry_run_on_a_new_database_lists_everything_and_creates_nothing(tmp_path):
    config = write_config(tmp_path, 'path = "data/monitor.db"')
    result = run_monitor("migrate", "--dry-run", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert listed(result.stdout) == {name: "pending" for name in SQLITE_NAMES}
    assert "none yet" in result.stdout
    assert not (tmp_path / "data" / "monitor.db").exists()


def test_sqlite_lists_pending_applies_them_then_says_up_to_date(tmp_path):
    path = tmp_path / "monitor.db"
    old = sqlite_utils.Database(path)
    migrations.apply(old, stop_before=SQLITE_NAMES[-1])  # a database one version behind
    old.close()
    config = write_config(tmp_path, 'path = "monitor.db"')

    shown = run_monitor("migrate", "--list", "--config", str(config), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert listed(shown.stdout) == {n: "applied" for n in SQLITE_NAMES[:-1]} | {
        SQLITE_NAMES[-1]: "pending"
    }
    assert "1 pending" in shown.stdout
    assert "outbox_senders" not in sqlite_utils.Database(path).table_names()  # not applied

    applied = run_monitor("migrate", "--config", str(config), cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert f"applied 1: {SQLITE_NAMES[-1]}" in applied.stdout
    assert "outbox_senders" in sqlite_utils.Database(path).table_names()

    again = run_monitor("migrate", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert listed(again.stdout) == {name: "applied" for name in SQLITE_NAMES}
    assert f"up to date: {len(SQLITE_NAMES)} migrations applied" in again.stdout


def test_bad_input_exits_2_with_one_line(tmp_path):
    config = write_config(tmp_path, 'path = "monitor.db"')
    wrong_url = run_monitor("migrate", "--to", "mysql://x/y", "--config", str(config), cwd=tmp_path)
    assert wrong_url.returncode == 2 and "postgresql://" in wrong_url.stderr
    assert "Traceback" not in wrong_url.stderr
    no_source = run_monitor(
        "migrate", "--to", "postgresql://u@/db", "--config", str(config), cwd=tmp_path
    )
    assert no_source.returncode == 2 and "no SQLite database to copy" in no_source.stderr
    both = run_monitor(
        "migrate", "--dry-run", "--to", "postgresql://u@/db", "--config", str(config), cwd=tmp_path
    )
    assert both.returncode == 2 and "not allowed with" in both.stderr


def test_postgres_lists_pending_applies_them_then_says_up_to_date(pg_server, tmp_path):
    from monitor.storage.postgres.schema import MIGRATIONS

    names = [name for name, _ in MIGRATIONS]
    config = write_config(tmp_path, f'url = "{pg_server.create_database("empty")}"')

    shown = run_monitor("migrate", "--dry-run", "--config", str(config), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("PostgreSQL database postgresql://")
    assert listed(shown.stdout) == {name: "pending" for name in names}

    applied = run_monitor("migrate", "--config", str(config), cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert f"applied {len(names)}: {', '.join(names)}" in applied.stdout

    again = run_monitor("migrate", "--list", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert listed(again.stdout) == {name: "applied" for name in names}
    assert "up to date" in again.stdout


def test_postgres_unreachable_exits_1(tmp_path):
    config = write_config(tmp_path, f'url = "postgresql://nobody@/none?host={tmp_path}"')
    result = run_monitor("migrate", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert "monitor: error:" in result.stderr and "Traceback" not in result.stderr
