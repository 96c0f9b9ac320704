"""The offline run rehearses the real one: runbook code never imports the lab or
the emulator (it reaches hosts through the data-plane seam, hybridnet.hosts),
and the emulator knows nothing of the lab's code (the lab registers itself and
reports through the admin API).

Read from the modules' source (ast), so a lazy import inside a function counts
too. What still breaks the rule is listed below and may only shrink: a new
import fails, and so does an entry that no longer applies.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[2] / "lib"
PACKAGE = LIB / "hybridnet"

RUNBOOK = sorted(
    [
        *PACKAGE.glob("phases/*.py"),
        *PACKAGE.glob("diagnostics/*.py"),
        PACKAGE / "healthcheck.py",
        PACKAGE / "aws.py",
        PACKAGE / "hosts.py",
    ]
)
EMULATOR = sorted(PACKAGE.glob("emulator/**/*.py"))

# hybridnet.dataplane is the lab's orchestration (bringing daemons up); phase and
# diagnostics code may not call it either. aws.py may: it asks dataplane.choose.
FORBIDDEN = ("hybridnet.lab", "hybridnet.emulator", "hybridnet.dataplane")

# What still breaks the rule, as (module, forbidden root); it may only shrink.
KNOWN: set[tuple[str, str]] = set()


def imported(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved, at any depth of the code."""
    package = ".".join(path.relative_to(LIB).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def breaking(paths: list[Path], forbidden: tuple[str, ...]) -> set[tuple[str, str]]:
    found = set()
    for path in paths:
        for name in imported(path):
            for root in forbidden:
                if path.name == "aws.py" and root == "hybridnet.dataplane":
                    continue
                if name == root or name.startswith(root + "."):
                    found.add((str(path.relative_to(PACKAGE)), root))
    return found


def test_the_reader_resolves_relative_and_lazy_imports(tmp_path):
    module = PACKAGE / "phases" / "client_vpn.py"
    names = imported(module)
    assert "hybridnet.aws" in names  # `from ..aws import AwsContext`
    lazy = PACKAGE / "cli.py"
    assert "hybridnet.phases.hybrid_dns" in imported(lazy)  # an import inside a function counts


def test_runbook_code_imports_neither_the_lab_nor_the_emulator():
    found = breaking(RUNBOOK, FORBIDDEN)
    new = sorted(found - KNOWN)
    assert not new, f"runbook code must reach hosts through hybridnet.hosts, not import: {new}"


def test_the_emulator_does_not_import_the_lab():
    found = breaking(EMULATOR, ("hybridnet.lab",))
    new = sorted(found - KNOWN)
    assert not new, f"the emulator learns of the lab through its admin API, not by importing it: {new}"


def test_the_list_of_what_is_left_only_shrinks():
    found = breaking(RUNBOOK, FORBIDDEN) | breaking(EMULATOR, ("hybridnet.lab",))
    fixed = sorted(KNOWN - found)
    assert not fixed, f"these no longer break the rule: remove them from KNOWN: {fixed}"
