"""What can be checked of the container setup without a Docker engine: the compose file parses,
every variable it gives the product is a setting the product knows, every command names
something real, and the image runs as a non-root user with pinned versions."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from entrypoints.cli import app
from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_SERVICES = ("migrate", "ai-service-arq-worker")


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def known_variables() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_the_compose_file_has_the_services_with_healthchecks_and_volumes() -> None:
    services = compose()["services"]
    assert {"redis", "postgres", "migrate", "ai-service-arq-worker"} <= set(services)
    for name in ("redis", "postgres", "ai-service-arq-worker"):
        assert services[name]["healthcheck"]["test"], name
    assert services["redis"]["volumes"] and services["postgres"]["volumes"]
    worker = services["ai-service-arq-worker"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert worker["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_every_variable_the_product_services_get_is_a_setting() -> None:
    known = known_variables()
    for name in PRODUCT_SERVICES:
        environment = compose()["services"][name]["environment"]
        unknown = set(environment) - known
        assert not unknown, f"{name} sets variables the settings do not know: {sorted(unknown)}"


def test_every_command_names_something_importable_or_a_real_cli_command() -> None:
    services = compose()["services"]
    commands = [command_of(services[name]) for name in PRODUCT_SERVICES]
    commands.append(
        [part for part in services["ai-service-arq-worker"]["healthcheck"]["test"] if part != "CMD"]
    )
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert dockerfile_cmd is not None
    commands.append(yaml.safe_load(dockerfile_cmd.group(1)))
    runner = CliRunner()
    for command in commands:
        if command[:3] == ["python", "-m", "arq"]:
            module, _, attribute = command[3].rpartition(".")
            assert getattr(importlib.import_module(module), attribute) is not None, command
        else:
            assert command[0] == "ai-worker", command
            help_run = runner.invoke(app, [*command[1:2], "--help"])
            assert help_run.exit_code == 0, (command, help_run.output)


def test_the_image_runs_as_a_non_root_user_on_a_pinned_base_with_constrained_dependencies() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    base = re.search(r"^FROM\s+python:(\S+)", dockerfile, re.MULTILINE)
    assert base is not None and re.match(r"3\.\d+\.\d+", base.group(1)), (
        "the base image is pinned to a patch release"
    )
    assert "--constraint constraints.txt" in dockerfile
    pinned = {
        re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0]).lower()
        assert name in pinned, f"{name} has no pinned version in constraints.txt"
