"""Long waits with boto3 waiters, showing progress as the state changes.

In a terminal (and in papermill's and nbval's runs) each state change is a line,
as `progress` (print by default) writes it. In a notebook a person has open in
JupyterLab, the same wait is one live progress bar instead: an IPython display
updated in place (its display_id), HTML with a plain-text twin, no widget
extension needed. Saved notebooks keep the bar's last state, e.g.
"VPN connection vpn-…: pending → available in 3.1 s". The runbook's saved
outputs (nbval's baselines) come from papermill runs, which print lines as
before, so they do not change.

What counts as "a person has it open": a kernel a Jupyter server started for a
notebook session (JupyterLab, `make jupyter`: it sets JPY_SESSION_NAME).
HYBRIDNET_PROGRESS=bar or =lines overrides that guess.
"""

from __future__ import annotations

import html
import json
import os
import sys
import time
from collections.abc import Callable
from importlib import resources
from typing import TypeVar

from botocore.exceptions import WaiterError
from botocore.waiter import Waiter, WaiterModel, create_waiter_with_client

T = TypeVar("T")

PROGRESS_ENV = "HYBRIDNET_PROGRESS"  # "bar" | "lines" | unset: bar in a Jupyter session's kernel, else lines


def wait(
    waiter: Waiter,
    *,
    label: str,
    delay: int,
    timeout: float,
    progress: Callable[[str], None] | None = print,
    done: str = "available",
    **kwargs,
) -> float:
    """Run `waiter` one poll at a time (its own acceptors decide success or
    failure) so that each state change can be reported; return seconds waited.
    `done` is the word reported at the end (e.g. OPERATIONAL for a Resolver endpoint).
    With the default `progress` (print) in a notebook someone has open, a progress
    bar shows the same (see the module's doc); any other callable gets the lines.
    """
    bar = ProgressBar.open(label, timeout) if progress is print else None
    report = None if bar else progress
    start = time.monotonic()
    last_state = None
    try:
        while True:
            try:
                waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": 1}, **kwargs)
                break
            except WaiterError as exc:
                # MaxAttempts=1 raises "Max attempts exceeded" while still waiting;
                # a failure acceptor or an error ends the wait for good.
                if "Max attempts exceeded" not in str(exc):
                    raise
                state = _state_of(exc.last_response)
                if report and state != last_state:
                    report(f"{label}: {state}")
                last_state = state
                if bar:
                    bar.update(state)
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"{label} still {last_state} after {timeout:.0f} s")
            time.sleep(delay)
    except BaseException as exc:
        if bar:
            bar.fail(_why_stopped(exc))
        raise
    elapsed = time.monotonic() - start
    if bar:
        bar.finish(done)
    elif progress:
        progress(f"{label}: {done}")
    return elapsed


def poll(check: Callable[[], T], *, timeout: float, interval: float, label: str | None = None) -> T:
    """check() until it returns something truthy or `timeout` seconds passed; its
    last value either way. For what no AWS waiter describes (the lab's own state,
    a value that must appear in a list); AWS resources wait with `wait` above.
    With a `label`, a notebook someone has open shows a progress bar while it
    waits (the terminal shows nothing, as without one)."""
    bar = ProgressBar.open(label, timeout) if label else None
    deadline = time.monotonic() + timeout
    try:
        while True:
            value = check()
            if value or time.monotonic() >= deadline:
                break
            if bar:
                bar.update("waiting")
            time.sleep(interval)
    except BaseException as exc:
        if bar:
            bar.fail(_why_stopped(exc))
        raise
    if bar and value:
        bar.finish("done")
    elif bar:
        bar.fail(f"not within {timeout:.0f} s")
    return value


def _why_stopped(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, TimeoutError):
        return "gave up: " + str(exc)
    return f"stopped: {type(exc).__name__}"


def progress_bars() -> bool:
    """Whether long waits show a progress bar (a notebook someone has open) rather
    than lines (a terminal, papermill, nbval)."""
    choice = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if choice == "lines":
        return False
    if choice != "bar" and not os.environ.get("JPY_SESSION_NAME"):
        return False
    ipython = sys.modules.get("IPython")  # never imported here: a terminal has no kernel
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressBar:
    """One wait as one live output in a notebook: an HTML <progress> (moving while
    it waits, full when done) and the states it went through, with a text twin.
    Updated in place through its display_id, at most a few times a second."""

    MIN_INTERVAL = 0.25  # seconds between two updates of the same state

    def __init__(self, label: str, timeout: float, display: Callable, update: Callable):
        self.label, self.timeout = label, timeout
        self.started = time.monotonic()
        self.states: list[str] = []
        self.outcome: str | None = None  # None while waiting, "done" or "failed"
        self.note = ""
        self._update = update
        self._shown_at = 0.0
        self._handle = display(self.bundle())

    @classmethod
    def open(cls, label: str, timeout: float) -> ProgressBar | None:
        """A bar in the notebook, or None where waits print lines."""
        if not progress_bars():
            return None
        from IPython.display import display

        return cls(
            label,
            timeout,
            display=lambda bundle: display(bundle, raw=True, display_id=True),
            update=lambda handle, bundle: handle.update(bundle, raw=True),
        )

    def update(self, state: str) -> None:
        now = time.monotonic()
        if self.states and self.states[-1] == state and now - self._shown_at < self.MIN_INTERVAL:
            return
        if not self.states or self.states[-1] != state:
            self.states.append(state)
        self._show(now)

    def finish(self, state: str) -> None:
        if not self.states or self.states[-1] != state:
            self.states.append(state)
        self.outcome = "done"
        self._show(time.monotonic())

    def fail(self, why: str) -> None:
        self.outcome, self.note = "failed", why
        self._show(time.monotonic())

    def _show(self, now: float) -> None:
        self._shown_at = now
        self._update(self._handle, self.bundle(now))

    def text(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self.started
        path = " → ".join(self.states) or "waiting"
        if self.outcome == "done":
            return f"{self.label}: {path} in {elapsed:.1f} s"
        if self.outcome == "failed":
            return f"{self.label}: {path}; {self.note} ({elapsed:.1f} s)"
        return f"{self.label}: {path} … {elapsed:.0f} s (gives up after {self.timeout:.0f} s)"

    def bundle(self, now: float | None = None) -> dict[str, str]:
        """text/plain and text/html of the bar as it is now."""
        text = self.text(now)
        if self.outcome == "done":
            bar = '<progress value="1" max="1"></progress>'
        elif self.outcome == "failed":
            bar = '<progress value="0" max="1"></progress>'
        else:
            bar = "<progress></progress>"  # no value: the browser's moving "busy" bar
        colour = {"done": "var(--jp-success-color1, #388e3c)", "failed": "var(--jp-error-color1, #d32f2f)"}.get(
            self.outcome or "", "inherit"
        )
        state = "waiting" if self.outcome is None else self.outcome
        return {
            "text/plain": text,
            "text/html": (
                f'<div class="hybridnet-progress" data-state="{state}">{bar} '
                f'<span style="color: {colour}">{html.escape(text)}</span></div>'
            ),
        }


def _state_of(response: dict) -> str:
    for value in response.values():
        if isinstance(value, list) and value and isinstance(value[0], dict) and "State" in value[0]:
            return str(value[0]["State"])
        if isinstance(value, dict) and "Status" in value:  # e.g. GetResolverEndpoint's ResolverEndpoint
            return str(value["Status"])
        if (
            isinstance(value, list)
            and value
            and isinstance(value[0], dict)
            and isinstance(value[0].get("Status"), dict)
        ):
            # Client VPN: [{..., "Status": {"Code": ...}}, ...]; every code still present
            return "/".join(
                sorted(
                    {
                        str(v["Status"].get("Code"))
                        for v in value
                        if isinstance(v, dict) and isinstance(v.get("Status"), dict)
                    }
                )
            )
    return "waiting"


# Waiters boto3 lacks, in botocore's own waiter language (waiters.json, version 2: the
# format of botocore's data/<service>/<version>/waiters-2.json).
EXTRA_WAITERS = WaiterModel(json.loads(resources.files("hybridnet").joinpath("waiters.json").read_text()))


def extra_waiter(name: str, client) -> Waiter:
    return create_waiter_with_client(name, EXTRA_WAITERS, client)
