"""`hybridnet healthcheck --timings`: the phase recorder (hybridnet.timings), its
table, and the command printing its phases, the notebook's kernel's included.
No assertion on how long anything takes: benchmarks are scripts
(bench/healthcheck.py); only sanity bounds here."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from hybridnet import cli, timings
from hybridnet.timings import Phase

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recording(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv(timings.ENV, str(path))
    return path


def test_without_the_variable_nothing_is_recorded(tmp_path, monkeypatch):
    monkeypatch.delenv(timings.ENV, raising=False)
    with timings.phase("quiet"):
        pass
    assert timings.load() == []
    assert not list(tmp_path.iterdir())


def test_a_phase_is_one_json_line_with_its_start_and_seconds(recording):
    before = time.time()
    with timings.phase("outer"):
        with timings.phase("inner"):
            time.sleep(0.01)
    lines = [json.loads(line) for line in recording.read_text().splitlines()]
    assert [line["name"] for line in lines] == ["inner", "outer"]  # recorded as each one ends
    inner, outer = timings.load(recording)
    assert before <= outer.start <= inner.start and inner.end <= outer.end + 1e-6
    assert 0.01 <= inner.seconds <= outer.seconds < 60


def test_a_phase_that_raises_is_recorded_too(recording):
    with pytest.raises(RuntimeError), timings.phase("broken"):
        raise RuntimeError("boom")
    assert [p.name for p in timings.load(recording)] == ["broken"]


def test_phases_nest_by_time_and_a_group_stays_flat():
    phases = [
        Phase("total", 0.0, 10.0),
        Phase("papermill (notebook 10)", 1.0, 8.0),
        Phase("cell 3: collect", 2.0, 3.0),
        Phase("collect", 2.5, 2.0),
        # collectors side by side: one holds another's span, yet they are siblings
        Phase("collect: slow", 2.6, 1.5),
        Phase("collect: fast", 2.7, 0.2),
        Phase("report (HTML)", 9.1, 0.5),
    ]
    shown = {p.name: p.depth for p in timings.rows(phases)}
    assert shown == {
        "total": 0,
        "papermill (notebook 10)": 1,
        "cell 3: collect": 2,
        "collect": 3,
        "collect: slow": 4,
        "collect: fast": 4,
        "report (HTML)": 1,
    }
    assert [p.name for p in timings.rows(phases)][:4] == [
        "total",
        "papermill (notebook 10)",
        "cell 3: collect",
        "collect",
    ]


def test_the_table_counts_what_is_outside_the_phases_within_once():
    phases = [Phase("collect", 0.0, 2.0), Phase("collect: a", 0.1, 1.0), Phase("collect: b", 0.5, 1.0)]
    text = timings.table(phases)
    lines = text.splitlines()
    assert lines[0].startswith("timings (wall clock, s")
    assert lines[1].split() == ["collect", "2.000"]
    assert lines[2].split() == ["collect:", "a", "1.000"] and lines[2].startswith("    collect: a")
    assert lines[-1].split() == ["(rest)", "0.600"]  # 2.0 - the 1.4 s a and b cover together


def test_parse_table_reads_back_each_phase_with_its_path():
    phases = [
        Phase("total", 0.0, 5.0),
        Phase("collect", 1.0, 2.0),
        Phase("collect: a", 1.1, 0.5),
        Phase("report (HTML)", 3.5, 1.0),
    ]
    parsed = timings.parse_table("some output\n" + timings.table(phases) + "\nafter")
    assert parsed == [
        (("total",), 5.0),
        (("total", "collect"), 2.0),
        (("total", "collect", "collect: a"), 0.5),
        (("total", "collect", "(rest)"), 1.5),
        (("total", "report (HTML)"), 1.0),
        (("total", "(rest)"), 2.0),
    ]


def test_notebook_cells_come_from_papermills_metadata(recording, tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# title"),
            nbformat.v4.new_code_cell("from x import y\n\nresult = y.compute()"),
            nbformat.v4.new_code_cell("result"),
        ]
    )
    nb.metadata["papermill"] = {"start_time": "2026-12-01T10:00:00+00:00", "end_time": "2026-12-01T10:00:05+00:00"}
    nb.cells[1].metadata["papermill"] = {
        "start_time": "2026-12-01T10:00:01+00:00",
        "end_time": "2026-12-01T10:00:03+00:00",
    }
    nb.cells[2].metadata["papermill"] = {
        "start_time": "2026-12-01T10:00:03.500000+00:00",
        "end_time": "2026-12-01T10:00:04+00:00",
    }
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    timings.notebook_cells(path)
    got = {p.name: round(p.seconds, 3) for p in timings.load(recording)}
    assert got == {
        "cell 1: result = y.compute()": 2.0,
        "cell 2: result": 0.5,
        "papermill: kernel start": 1.0,
        "papermill: kernel stop": 1.0,
    }


def test_the_process_start_is_before_now():
    started = timings.process_start()
    assert started is None or time.time() - 3600 * 24 * 365 < started <= time.time()


def test_report_removes_the_file_it_made(monkeypatch):
    monkeypatch.delenv(timings.ENV, raising=False)
    path = timings.start()
    try:
        with timings.phase("something"):
            pass
        text = timings.report()
    finally:
        path.unlink(missing_ok=True)
    assert "python start and imports" in text and "something" in text and "total" in text
    assert not path.exists() and timings.ENV not in os.environ


def test_healthcheck_timings_prints_the_phases_of_the_command_and_of_the_kernel(tmp_path, own_emulator, capsys):
    """The CLI against the emulator alone (lab off): the table on stderr holds the
    command's phases, the notebook's cells and the collectors timed in its kernel."""
    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data["lab"] = "off"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(data))
    check = yaml.safe_load((ROOT / "params" / "healthcheck.yaml").read_text())
    check["params"] = "params.yaml"
    (tmp_path / "healthcheck.yaml").write_text(yaml.safe_dump(check))

    code = cli.main(["healthcheck", "--params", str(tmp_path / "healthcheck.yaml"), "--timings"])

    out, err = capsys.readouterr()
    assert code in (0, 1, 2) and "health check:" in out
    assert "timings (wall clock" not in out  # the verdicts on stdout stay as they were
    parsed = timings.parse_table(err)
    names = {path[-1] for path, _ in parsed}
    for expected in (
        "total",
        "python start and imports",
        "account (STS)",
        "papermill (notebook 10)",
        "papermill: kernel start",
        "papermill: kernel stop",
        "collect",
        "collect: hosts",
        "collect: VPN connections",
        "judge",
        "report (HTML)",
    ):
        assert expected in names, f"{expected!r} not in {sorted(names)}"
    assert any(n.startswith("cell ") and "open_healthcheck" in n for n in names)
    paths = dict(parsed)
    assert any(p[-1] == "collect" and "papermill (notebook 10)" in p for p in paths)  # in the kernel, nested
    total = paths[("total",)]
    assert all(0 <= seconds <= total + 0.05 for seconds in paths.values())
    assert 0 < total < 600
    assert timings.ENV not in os.environ
