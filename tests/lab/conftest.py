"""Fixtures for the lab tests (real daemons in `hn-` network namespaces)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CGW_FIXTURE_DIR = Path(__file__).parent / "fixtures" / "cgw_lab"


@pytest.fixture(scope="session")
def lab_root() -> None:
    """Lab tests need root. Without it they skip, unless CI=true: then it is a failure,
    so a CI job that lost its privileges cannot pass by skipping everything."""
    if os.geteuid() == 0:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("lab tests need root, and CI=true makes running them without root a failure")
    pytest.skip("lab tests need root (real daemons in network namespaces)")


@pytest.fixture(scope="session")
def cgw_fixture_dir() -> Path:
    """Hand-written customer-gateway config dir (the generator's "lab" target contract)."""
    return CGW_FIXTURE_DIR


@pytest.fixture(scope="session")
def lab_session(lab_root):
    """Root, and the machine-wide lab lock for the whole session: the lab's
    namespace names are fixed, so a second session (another engineer's run)
    waits here instead of tearing this one's lab down."""
    from hybridnet.lab import exclusive_lab

    with exclusive_lab(timeout=600.0):
        yield
