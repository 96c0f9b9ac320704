"""What hybridnet knows can go wrong: one family of errors, each with the exit
code the command line gives it (README: Command line, exit codes).

The CLI turns a HybridnetError into its message on stderr and its exit code,
never a traceback; anything else is a bug, and shows as one.
"""

from __future__ import annotations

from pathlib import Path


class HybridnetError(Exception):
    """A known failure whose message says what to do."""

    exit_code = 2


class CredentialsError(HybridnetError):
    """The target account cannot be reached as the params say: no such profile, no
    credentials, an expired token, access denied, no route to the endpoint."""

    exit_code = 4


class LocalPlaneError(HybridnetError):
    """The embedded emulator or the lab could not do what was asked (its process, a
    daemon that did not start, a namespace, an agent's call): the message names it
    and where its log is."""

    exit_code = 6


class NotebookFailed(HybridnetError):
    """A runbook notebook stopped at a cell: which one, why, and where the notebook
    as far as it ran is (papermill saves it with the error in place)."""

    exit_code = 3

    def __init__(self, notebook: str, execution_count: int | None, source: str, ename: str, evalue: str, output: Path):
        self.notebook, self.execution_count, self.ename, self.evalue, self.output = (
            notebook,
            execution_count,
            ename,
            evalue,
            Path(output),
        )
        self.first_line = next(
            (line.strip() for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")), ""
        )
        # As Jupyter labels the cell in the saved notebook: In [n]
        where = f"In [{execution_count}]" if execution_count is not None else "a cell"
        evalue_lines = [line for line in evalue.strip().splitlines() if line.strip()] or ["(no message)"]
        lines = [
            f"notebook {notebook} failed at {where}" + (f": {self.first_line[:100]}" if self.first_line else ""),
            f"  {ename}: {evalue_lines[0][:500]}",
            *[f"    {line[:500]}" for line in evalue_lines[1:8]],
            f"  the notebook as far as it ran: {self.output}",
            f"  (exit {self.exit_code})",
        ]
        super().__init__("\n".join(lines))


__all__ = ["CredentialsError", "HybridnetError", "LocalPlaneError", "NotebookFailed"]
