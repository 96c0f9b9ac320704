"""Fixtures for the lab tests (real daemons in the test lab's `hntest-`
network namespaces: tests/conftest.py sets HYBRIDNET_LAB=test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

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


def users_lab() -> dict:
    """What of the user's lab (the default `hn-` one) is on this machine: its
    namespaces, and the daemons its state file records (pid, start time)."""
    from hybridnet import locks
    from hybridnet.lab import identity

    prefix, lab_dir = identity.namespace_prefix(""), identity.lab_dir("")
    with locks.flock(tooling.USERS_LAB_LOOK, timeout=120.0):
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    namespaces = sorted(line.split()[0] for line in listed.splitlines() if line.startswith(prefix))
    try:
        recorded = json.loads((lab_dir / "state.json").read_text()).get("daemons", [])
    except (OSError, ValueError):
        recorded = []
    return {"namespaces": namespaces, "daemons": sorted((d["name"], d["pid"], d["starttime"]) for d in recorded)}


@pytest.fixture(scope="session")
def lab_session(lab_root, test_lab_lock):
    """Root, and the test lab's lock for the whole session (a second test session
    waits instead of tearing this one's lab down). The user's own lab, if one
    runs, must come out of the session exactly as it went in."""
    from hybridnet.lab import identity

    assert identity.NAME.startswith("test"), "tests/conftest.py should have set HYBRIDNET_LAB=test..."
    before = users_lab()
    yield
    from hybridnet.lab.daemons import is_same_process_alive

    after = users_lab()
    unless = "; unless you stopped or rebuilt your lab yourself during the tests, the tests did, which is a bug"
    assert set(before["namespaces"]) <= set(after["namespaces"]), (
        f"namespaces of the user's lab disappeared during the tests: "
        f"{sorted(set(before['namespaces']) - set(after['namespaces']))}{unless}"
    )
    gone = [name for name, pid, start in before["daemons"] if not is_same_process_alive(pid, start)]
    assert not gone, f"the user's lab daemons {gone} stopped during the tests{unless}"
