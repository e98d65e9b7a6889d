"""The Docker files stay true to the project: `docker build` cannot run here, so what can
be checked without an engine is checked (issue 16, item 14)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from conftest import ROOT

from monitor.core.config import parse_config


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_image_config_is_the_example_with_its_data_in_the_volume():
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    image = (ROOT / "docker" / "config.toml").read_text(encoding="utf-8")
    config = parse_config(tomllib.loads(image), Path("/config/config.toml"))
    assert config.storage.path == Path("/data/monitor.db")
    assert config.digest.html_dir == Path("/data/digests")
    differ = [
        (a, b) for a, b in zip(example.splitlines(), image.splitlines()[3:], strict=True) if a != b
    ]
    assert [a.split("=")[0].strip() for a, _ in differ] == ["path", "html_dir"]  # no drift


def test_the_image_installs_every_dependency_pinned():
    pinned = {
        _name(line): line
        for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert all("==" in line for line in pinned.values())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    missing = {_name(d) for d in project["dependencies"]} - set(pinned)
    assert not missing, f"requirements.lock lacks {sorted(missing)}"
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --no-deps -r requirements.lock" in dockerfile


def test_the_build_context_leaves_out_the_venv_and_the_env_file_is_optional():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".git", "data", ".env", "config.toml"} <= set(ignored)
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "required: false" in compose


def test_the_postgres_compose_file_adds_a_server_and_two_workers_and_no_secret():
    """docker-compose.postgres.yml (docs/deploy.md) goes on top of docker-compose.yml,
    which stays a one-worker SQLite deployment."""
    base = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "postgres" not in base and "replicas" not in base
    over = (ROOT / "docker-compose.postgres.yml").read_text(encoding="utf-8")
    assert re.search(r"^  postgres:\n    image: postgres:\d+", over, re.M)
    assert re.search(r"^  monitor:\n    deploy:\n      replicas: 2\b", over, re.M)
    assert "condition: service_healthy" in over and "pg_isready" in over
    # the password comes from .env, never from the file; libpq reads PGPASSWORD
    assert re.findall(r"(?:POSTGRES_PASSWORD|PGPASSWORD): (\S+)", over) == [
        "${PGPASSWORD:?set",
        "${PGPASSWORD:?set",
    ]
    # the URL the comments and docs/deploy.md give is one the config accepts
    url = "postgresql://monitor@postgres/monitor"
    assert url in over and url in (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    config = parse_config({"storage": {"url": url}}, Path("/config/config.toml"))
    assert config.storage.url == url
