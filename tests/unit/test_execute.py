"""execute.run_notebook with write_each_cell=False (the health check's): papermill
writes the executed notebook as it starts and when done, not at each cell, and
still after a failed cell, with the error in it, where the CLI's error block points."""

from __future__ import annotations

import nbformat
import papermill.engines
import pytest
from hybridnet import execute
from hybridnet.errors import NotebookFailed


def notebook(folder, name, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    cell = nbformat.v4.new_code_cell("run_dir = ''")
    cell.metadata["tags"] = ["parameters"]
    nb.cells.insert(0, cell)
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture
def folders(tmp_path, monkeypatch):
    notebooks, runs = tmp_path / "notebooks", tmp_path / "run"
    notebooks.mkdir()
    runs.mkdir()
    monkeypatch.setattr(execute, "notebooks_dir", lambda: notebooks)
    writes = []
    original = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: writes.append(path) or original(nb, path))
    return notebooks, runs, writes


def outputs(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [o.get("text", "") or o.get("ename", "") for c in nb.cells for o in c.get("outputs", [])]


def test_the_notebook_is_written_once_when_done(folders):
    notebooks, runs, writes = folders
    notebook(notebooks, "ok", "print('one')", "print('two')", "print('three')")
    done = execute.run_notebook("ok", runs, {}, write_each_cell=False)
    assert outputs(done.output) == ["one\n", "two\n", "three\n"]
    assert len(writes) == 2  # as it starts and when done; papermill's own engine at each cell's start and end too
    writes.clear()
    execute.run_notebook("ok", runs, {})
    assert len(writes) > 6


def test_a_failed_cell_still_leaves_the_notebook_with_its_error(folders):
    notebooks, runs, _ = folders
    notebook(notebooks, "fails", "print('before')", "raise RuntimeError('on purpose')", "print('never')")
    with pytest.raises(NotebookFailed) as info:
        execute.run_notebook("fails", runs, {}, write_each_cell=False)
    assert info.value.ename == "RuntimeError" and "on purpose" in info.value.evalue
    saved = outputs(runs / "fails.ipynb")
    assert "before\n" in saved and "RuntimeError" in saved and "never\n" not in saved
