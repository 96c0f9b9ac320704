"""Long waits: lines in a terminal (and in papermill's and nbval's kernels, so the
saved notebooks do not change), one live progress bar in a notebook someone has
open in JupyterLab (tests/browser checks it in a real browser)."""

from __future__ import annotations

import pytest
from botocore.exceptions import WaiterError
from hybridnet import waiting
from hybridnet.waiting import ProgressBar, poll, progress_bars, wait


class FakeWaiter:
    """A boto3 waiter whose resource is pending for `pending` polls, then available."""

    def __init__(self, pending: int = 2):
        self.pending = pending

    def wait(self, WaiterConfig, **kwargs):
        if self.pending:
            self.pending -= 1
            raise WaiterError(
                "VpnConnectionAvailable", "Max attempts exceeded", {"VpnConnections": [{"State": "pending"}]}
            )


class FakeDisplay:
    """IPython's display/update_display, recorded."""

    def __init__(self):
        self.shown: list[dict] = []

    def display(self, bundle):
        self.shown.append(bundle)
        return len(self.shown) - 1

    def update(self, handle, bundle):
        self.shown[handle] = bundle


@pytest.fixture
def bars(monkeypatch):
    """Progress bars on (as in a JupyterLab kernel), drawn into a FakeDisplay."""
    screen = FakeDisplay()
    monkeypatch.setattr(
        ProgressBar,
        "open",
        classmethod(lambda cls, label, timeout: cls(label, timeout, display=screen.display, update=screen.update)),
    )
    return screen


def test_a_terminal_gets_the_same_lines_as_before(capsys, monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not progress_bars()
    wait(FakeWaiter(), label="VPN connection vpn-1", delay=0, timeout=5, VpnConnectionIds=["vpn-1"])
    assert capsys.readouterr().out == "VPN connection vpn-1: pending\nVPN connection vpn-1: available\n"


def test_a_progress_callable_still_gets_lines_and_none_is_silent(capsys, bars):
    lines = []
    wait(FakeWaiter(), label="endpoint", delay=0, timeout=5, progress=lines.append, done="OPERATIONAL")
    assert lines == ["endpoint: pending", "endpoint: OPERATIONAL"] and not bars.shown
    wait(FakeWaiter(), label="endpoint", delay=0, timeout=5, progress=None)
    assert capsys.readouterr().out == "" and not bars.shown


def test_in_a_notebook_a_wait_is_one_bar_that_ends_full(capsys, bars):
    wait(FakeWaiter(pending=3), label="VPN connection vpn-1", delay=0, timeout=5)
    assert capsys.readouterr().out == ""  # no lines: the bar instead
    (bundle,) = bars.shown  # one output, updated in place
    assert bundle["text/plain"].startswith("VPN connection vpn-1: pending → available in ")
    assert '<progress value="1" max="1">' in bundle["text/html"] and 'data-state="done"' in bundle["text/html"]


def test_a_wait_that_gives_up_leaves_its_bar_failed(bars):
    with pytest.raises(TimeoutError):
        wait(FakeWaiter(pending=1000), label="TGW attachment <x>", delay=0, timeout=0.05)
    (bundle,) = bars.shown
    assert 'data-state="failed"' in bundle["text/html"] and "gave up" in bundle["text/plain"]
    assert "TGW attachment &lt;x&gt;" in bundle["text/html"]  # labels are escaped


def test_poll_shows_a_bar_only_with_a_label(bars):
    answers = iter([None, None, "up"])
    assert poll(lambda: next(answers), timeout=5, interval=0, label="tunnels UP") == "up"
    assert poll(lambda: None, timeout=0.02, interval=0.01) is None  # no label: nothing shown, as before
    (bundle,) = bars.shown
    assert bundle["text/plain"].startswith("tunnels UP: waiting → done in ")


def test_bars_only_in_a_kernel_of_a_jupyter_session(monkeypatch):
    """A Jupyter server sets JPY_SESSION_NAME for a notebook's kernel; papermill and
    nbval do not (their kernels print lines: the saved baselines stay as they are)."""

    class Shell:
        kernel = object()

    class FakeIPython:
        shell = None

        @classmethod
        def get_ipython(cls):
            return cls.shell

    monkeypatch.setitem(waiting.sys.modules, "IPython", FakeIPython)
    monkeypatch.delenv(waiting.PROGRESS_ENV, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/notebooks/01_tgw_attachment.ipynb")
    assert not progress_bars()  # no kernel: IPython imported by a script
    FakeIPython.shell = Shell()
    assert progress_bars()
    monkeypatch.setenv(waiting.PROGRESS_ENV, "lines")
    assert not progress_bars()
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.delenv(waiting.PROGRESS_ENV)
    assert not progress_bars()  # papermill, nbval
    monkeypatch.setenv(waiting.PROGRESS_ENV, "bar")
    assert progress_bars()
