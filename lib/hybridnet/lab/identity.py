"""Which lab this process drives: its namespace prefix, its folder and its lock.

One machine can hold two labs side by side, so that the test suite never stops
or replaces the lab an engineer is running:

- the user's lab (``HYBRIDNET_LAB`` unset): namespaces ``hn-*``, folder
  ``/run/hybridnet-lab``, lock ``/run/hybridnet-lab.lock``;
- a named lab (``HYBRIDNET_LAB=test``, what tests/conftest.py sets): namespaces
  ``hntest-*``, folder ``/run/hybridnet-lab-test``, lock
  ``/run/hybridnet-lab-test.lock``.

Everything a lab makes (namespaces, daemons, /run/frr/<ns> folders, its folder)
carries its prefix, and `lab down` only ever touches its own prefix. The
variable is read once, at import: child processes (papermill kernels, `hybridnet
run`, the emulator's pollers) inherit it and so drive the same lab.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import HybridnetError

LAB_ENV = "HYBRIDNET_LAB"
_NAME_RE = re.compile(r"[a-z0-9]{1,8}")


class LabNameError(HybridnetError, ValueError):
    """HYBRIDNET_LAB holds something that cannot name a lab."""


def lab_name(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """The lab's name: "" for the user's lab, else HYBRIDNET_LAB (1-8 of a-z, 0-9)."""
    name = environ.get(LAB_ENV, "")
    if name and not _NAME_RE.fullmatch(name):
        raise LabNameError(
            f"{LAB_ENV}={name!r}: a lab name is 1 to 8 characters a-z or 0-9 "
            "(it becomes part of namespace names); unset it for the default lab"
        )
    return name


def namespace_prefix(name: str) -> str:
    return f"hn{name}-"


def lab_dir(name: str) -> Path:
    return Path("/run/hybridnet-lab" + (f"-{name}" if name else ""))


NAME = lab_name()
NAMESPACE_PREFIX = namespace_prefix(NAME)
LAB_DIR = lab_dir(NAME)
LOCK_PATH = LAB_DIR.with_name(LAB_DIR.name + ".lock")
