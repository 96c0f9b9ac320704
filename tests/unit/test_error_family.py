"""One family of errors: every exception hybridnet raises for a known failure is a
HybridnetError with an exit code of the README's table, and the command line turns
any of them into one line, never a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import hybridnet
import pytest
from hybridnet import cli
from hybridnet.errors import HybridnetError, LocalPlaneError

ROOT = Path(__file__).resolve().parents[2]

# Exceptions that never reach a user, each with why.
INTERNAL = {
    "hybridnet.params._CrossCheckFailed": "pydantic's carrier for ParamsError's problems",
    "hybridnet.locks.Busy": "becomes StackBusy (or is waited on) by every caller",
    "hybridnet.hosts._Unreachable": "becomes a host row saying why",
    "hybridnet.diagnostics.dns.ProbeError": "becomes a probe's rcode and detail",
    "hybridnet.emulator.admin.NotFound": "the admin API's 404",
    "hybridnet.emulator.fleet.exceptions.FleetSpecError": "the admin API's 400 for a bad fleet seed",
    "hybridnet.diagnostics.changes.SnapshotSkipped": "a warning: the report says which runs were passed over",
    "hybridnet.emulator.auth.Refused": "an AWS error answered in the service's protocol",
    "hybridnet.emulator.auth.RefusalResponse": "the HTTP answer carrying it",
    "hybridnet.handlers.connect_handler.ConfigError": "raised inside the deployed Lambda function, which "
    "imports nothing of hybridnet",
    "hybridnet.handlers.connect_handler.RequestError": "idem",
}


def hybridnet_exceptions() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(hybridnet.__path__, "hybridnet."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def aws_error(name: str, cls: type) -> bool:
    """An emulator extension's AWS error (moto's classes: what the emulator answers)."""
    return name.startswith("hybridnet.emulator.") and any(
        base.__module__.startswith("moto.") for base in inspect.getmro(cls)[1:]
    )


def test_every_known_failure_is_a_hybridnet_error_with_a_documented_exit_code():
    readme = (ROOT / "README.md").read_text()
    strays = []
    for name, cls in sorted(hybridnet_exceptions().items()):
        if name in INTERNAL or aws_error(name, cls):
            continue
        if not issubclass(cls, HybridnetError):
            strays.append(name)
            continue
        assert f"\n| {cls.exit_code} |" in readme, f"{name}: exit {cls.exit_code} is not in the README's table"
    assert not strays, (
        f"not HybridnetErrors (derive them from errors.HybridnetError, or list why in INTERNAL): {strays}"
    )


@pytest.mark.parametrize(
    "error, code",
    [
        (LocalPlaneError("namespace hn-cgw could not be made: see /run/hybridnet-lab/logs"), 6),
        (HybridnetError("vpn.tunnels[0].pre_shared_key: too short"), 2),
    ],
)
def test_the_cli_prints_one_line_and_the_exit_code(monkeypatch, capsys, error, code):
    def fails(args):
        raise error

    monkeypatch.setattr(cli, "cmd_lab_down", fails)
    assert cli.main(["lab", "down"]) == code
    out, err = capsys.readouterr()
    assert err == f"hybridnet: {error}\n" and "Traceback" not in err and not out


def test_a_lab_error_is_a_local_plane_error():
    from hybridnet.emulator.process import EmulatorError
    from hybridnet.lab.lifecycle import LabError
    from hybridnet.lab.netns import LabNetworkError
    from hybridnet.lab.vici import ViciError

    for cls in (LabError, LabNetworkError, ViciError, EmulatorError):
        assert issubclass(cls, LocalPlaneError) and cls.exit_code == 6
