"""The images install the packages for real (not editable): nothing may be left behind.

`make setup` installs editable, so a file missing from a wheel (a template, the web UI's
static files) only shows in the Docker image. This builds each package's wheel the way
the Dockerfile's builder does and compares it with the source tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.deploy.tools import REPO

pytestmark = [pytest.mark.unit, pytest.mark.slow]

SKIP = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def projects() -> list[Path]:
    makefile = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^PKGS\s*:=(.*)$", makefile, re.MULTILINE)
    assert match
    return [REPO / p for p in match.group(1).split()] + [REPO]


def package_files(project: Path) -> set[str]:
    """Files of the project's top-level packages, as paths inside a wheel."""
    root = project / "src" if project == REPO else project
    files = set()
    for init in root.glob("*/__init__.py"):
        for path in init.parent.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(root).as_posix())
    return files


def build_wheel(project: Path, workdir: Path) -> set[str]:
    # A copy, so that setuptools' build/ and *.egg-info stay out of the work tree.
    copy = workdir / ("root" if project == REPO else project.name)
    if project == REPO:
        copy.mkdir()
        shutil.copy(REPO / "pyproject.toml", copy)
        shutil.copytree(REPO / "src", copy / "src", ignore=SKIP)
    else:
        shutil.copytree(project, copy, ignore=SKIP)
    out = workdir / f"{copy.name}-wheel"
    # The PEP 517 hook pip calls, without pip's start-up cost.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheels_carry_every_file_of_their_packages(tmp_path: Path) -> None:
    targets = projects()
    with ThreadPoolExecutor(max_workers=4) as pool:
        wheels = list(pool.map(lambda p: build_wheel(p, tmp_path), targets))
    missing = {
        str(project.relative_to(REPO)) or ".": sorted(package_files(project) - contents)
        for project, contents in zip(targets, wheels, strict=True)
    }
    # Declare such files as package data in the project's pyproject.toml.
    assert {k: v for k, v in missing.items() if v} == {}
