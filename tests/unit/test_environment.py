"""environment.yml and pyproject.toml must name the same pinned packages."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert sorted(p for p in pip if not p.startswith("-e")) == sorted(project)
    assert conda_python, "environment.yml should pin the Python version"


def test_product_card_packages_are_dependencies():
    deps = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    for package in ("jupyterlab", "boto3", "pandas", "matplotlib", "dnspython", "papermill", "nbval"):
        assert f"{package}==" in deps
