"""JupyterLab, tested as a person uses it: `make jupyter` starts it (the emulator
first, as `hybridnet run` does), headless Chromium opens the printed URL, the
file browser opens notebook 01, Run > Run All Cells runs it, and the page must
show the tunnel table, a finished progress bar for each long wait, and no error.

Isolation: a temporary HYBRIDNET_HOME (its own emulator, stopped at the end),
Jupyter's config, data, runtime, settings and workspace folders in the test's
tmp dir (nothing of the user's JupyterLab applies or changes), and a copy of
the notebook, its outputs cleared, beside a copy of params/lab.yaml with
`lab: off` (the notebook's default params_file, "params/lab.yaml", resolves
beside it first: workspace.resolve_params_path). `lab: off`, because the lab's
agent would play the stack in the tests' own lab, which the lab tests hold,
and notebook 01 shows nothing of the lab anyway (its tunnels are DOWN either way).

Every packet stays on 127.0.0.1: JupyterLab listens there only (checked in
/proc/net), Chromium runs with its background networking off.

Needs Debian's chromium and chromium-driver (scripts/setup.sh installs them as
root) and selenium (the `test` extra): without them it skips, and under CI=true
it fails instead (tests/tooling.py: unavailable).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tooling

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "01_tgw_attachment.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
URL_LINE = re.compile(r"^\s*(http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+))\s*$", re.M)
START_S = 180  # make's setup check, the emulator, JupyterLab
RUN_ALL_S = 180  # kernel start and notebook 01 against a fresh emulator: about 10 s here
# Chromium as root in a closed network: no sandbox (root), nothing in the background
# that would try the internet, a profile of its own.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--window-size=1400,2200",
]

# What the page shows, read in one go (JavaScript: the cells' text whether or not
# they are scrolled into view).
PAGE_STATE_JS = """
const panel = [...document.querySelectorAll('.jp-NotebookPanel')].find(p => !p.classList.contains('lm-mod-hidden'));
if (!panel) return null;
const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
const text = el => (el.textContent || '').trim();
return {
  status: indicator ? indicator.getAttribute('data-status') : null,
  prompts: [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(text),
  stderr: outputs.filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr').map(text),
  stdout: outputs.filter(o => o.getAttribute('data-mime-type') === 'application/vnd.jupyter.stdout').map(text),
  errors: [...panel.querySelectorAll('.jp-OutputArea-output.jp-mod-error, .jp-RenderedText.jp-mod-error')].map(text),
  tables: [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="text/html"] table')].map(t => ({
    header: [...t.querySelectorAll('thead th')].map(text),
    rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('th, td')].map(text)),
  })),
  progress: [...panel.querySelectorAll('.hybridnet-progress')].map(p => ({
    state: p.getAttribute('data-state'), text: text(p),
    bar: p.querySelector('progress') ? [p.querySelector('progress').getAttribute('value'),
                                         p.querySelector('progress').getAttribute('max')] : null,
  })),
};
"""


@pytest.fixture(scope="module")
def browser_tools():
    """Chromium, its driver and selenium, or a skip (a failure under CI=true)."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            tooling.unavailable(
                f"{path} is not installed (Debian's chromium and chromium-driver: "
                "scripts/setup.sh installs them as root)"
            )
    import importlib.util

    if importlib.util.find_spec("selenium") is None:
        tooling.unavailable("selenium is not installed (the `test` extra: scripts/setup.sh)")


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on `port` (IPv4 and IPv6), from /proc."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def http_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def processes_with_home(home: Path) -> list[int]:
    """Pids of the processes whose environment has HYBRIDNET_HOME=home: this test's only."""
    marker = f"HYBRIDNET_HOME={home}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def prepare(tmp: Path) -> tuple[Path, Path]:
    """A notebook folder with a copy of notebook 01 (outputs cleared: what the page
    shows is this run's) and params/lab.yaml beside it with `lab: off`."""
    notebooks = tmp / "notebooks"
    (notebooks / "params").mkdir(parents=True)
    notebook = json.loads((ROOT / "notebooks" / NOTEBOOK).read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cell.get("metadata", {}).pop("execution", None)
    (notebooks / NOTEBOOK).write_text(json.dumps(notebook, indent=1))
    params = notebooks / "params" / "lab.yaml"
    params.write_text(
        "# the browser test's copy: no lab (the tests' lab belongs to the lab tests)\nlab: off\n"
        + (ROOT / "params" / "lab.yaml").read_text()
    )
    return notebooks, params


def jupyter_env(tmp: Path, home: Path) -> dict:
    env = dict(os.environ, HYBRIDNET_HOME=str(home))
    env.pop("JUPYTER_TOKEN", None)  # make jupyter makes its own
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        (tmp / sub).mkdir()
        env[var] = str(tmp / sub)
    return env


def wait_for_url(server: subprocess.Popen, log: Path, timeout: float) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = URL_LINE.search(log.read_text(errors="replace"))
        if found:
            return found
        if server.poll() is not None:
            break
        time.sleep(0.25)
    pytest.fail(f"make jupyter printed no URL (exit {server.poll()}):\n{log.read_text(errors='replace')[-4000:]}")


def stop_server(server: subprocess.Popen, home: Path, env: dict) -> list[int]:
    """Stop what this test started: make and its children (their own process group,
    made for them), the kernels JupyterLab stops itself, the emulator; returns the
    pids of this test's processes still alive after that (killed, by pid)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    subprocess.run(
        [sys.executable, "-m", "hybridnet.cli", "emulator", "stop"], env=env, capture_output=True, timeout=60
    )
    deadline = time.monotonic() + 15  # kernels are stopped by JupyterLab as it shuts down
    while processes_with_home(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_with_home(home)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


def start_chromium(tmp: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS + [f"--user-data-dir={tmp / 'chromium-profile'}"]:
        options.add_argument(arg)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp / "chromedriver.log"))
    return webdriver.Chrome(service=service, options=options)


def wait_until(driver, what: str, condition, timeout: float):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda d: condition(d))
    except TimeoutException:
        pytest.fail(f"{what}: not within {timeout:.0f} s; the page: {driver.execute_script(PAGE_STATE_JS)}")


def idle(state: dict | None, cells: int | None = None) -> bool:
    """The kernel idle and every code cell run (prompts [n]:, none [*]: or [ ]:)."""
    if not state or state["status"] != "idle":
        return False
    prompts = state["prompts"]
    return (cells is None or len(prompts) == cells) and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts)


def open_notebook(driver, url: str) -> None:
    """The printed URL, then the notebook from the file browser, as a person would."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.get(url)
    item = f"//li[contains(@class, 'jp-DirListing-item')][.//span[text()='{NOTEBOOK}']]"
    listed = wait_until(
        driver,
        f"{NOTEBOOK} in the file browser",
        lambda d: [e for e in d.find_elements(By.XPATH, item) if e.is_displayed() and e.size["height"] > 0],
        timeout=90,
    )
    ActionChains(driver).double_click(listed[0]).perform()
    wait_until(
        driver,
        "the notebook open with its kernel idle",
        lambda d: (d.execute_script(PAGE_STATE_JS) or {}).get("status") == "idle",
        timeout=90,
    )


def run_all_cells(driver) -> None:
    """Run > Run All Cells, from the menu bar."""
    from selenium.webdriver.common.by import By

    run_menu = next(m for m in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if m.text.strip() == "Run")
    run_menu.click()
    item = wait_until(
        driver,
        "Run All Cells in the Run menu",
        lambda d: [
            e
            for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-content .lm-Menu-item")
            if e.text.split("\n")[0].strip() == "Run All Cells" and e.is_displayed()
        ],
        timeout=10,
    )
    item[0].click()


def errors_shown(state: dict) -> list[str]:
    """Outputs that show an error: a traceback or an exception's class on stderr
    (JupyterLab renders an error output so), or an output marked as an error."""
    shown = [
        text for text in state["stderr"] if "Traceback" in text or re.search(r"\b[A-Z]\w*(Error|Exception)\b", text)
    ]
    return shown + state["errors"]


def test_make_jupyter_runs_notebook_01_in_chromium(browser_tools, tmp_path_factory):
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("jl")  # short: the emulator's unix socket path has a limit
    home = tmp / "home"
    notebooks, params = prepare(tmp)
    env = jupyter_env(tmp, home)
    log = tmp / "make-jupyter.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            ["make", "-s", "jupyter", f"PARAMS={params}", f"JUPYTER_ARGS=--port 0 --notebook-dir {notebooks}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    driver = None
    screenshot = tmp / "jupyterlab-01_tgw_attachment.png"
    try:
        found = wait_for_url(server, log, START_S)
        url, port, token = found.group(1), int(found.group(2)), found.group(3)  # --port 0: a free one

        # 127.0.0.1 only, a token, no cross-origin access, no other Host name (DNS rebinding)
        assert listening_addresses(port) == {"0100007F"}, listening_addresses(port)  # 127.0.0.1, nothing else
        assert http_get(port, "/api/status")[0] == 403
        assert http_get(port, "/api/status", {"Authorization": f"token {token}"})[0] == 200
        _, headers = http_get(
            port, "/api/status", {"Authorization": f"token {token}", "Origin": "http://attacker.example"}
        )
        assert headers.get("access-control-allow-origin") in (None, f"http://127.0.0.1:{port}"), headers
        assert (
            http_get(port, "/api/status", {"Authorization": f"token {token}", "Host": f"attacker.example:{port}"})[0]
            == 403
        )
        text = log.read_text()
        if os.geteuid() == 0:
            assert "as root" in text and "Running as root is not recommended" not in text
        assert "no lab: lab: off in the params" in text

        driver = start_chromium(tmp)
        open_notebook(driver, url)
        cells = sum(c["cell_type"] == "code" for c in json.loads((notebooks / NOTEBOOK).read_text())["cells"])
        wait_until(
            driver,
            f"the notebook's {cells} code cells shown",
            lambda d: len(d.execute_script(PAGE_STATE_JS)["prompts"]) == cells,
            timeout=30,
        )
        run_all_cells(driver)
        state = wait_until(
            driver,
            "Run All Cells: every cell run and the kernel idle",
            lambda d: (lambda s: s if idle(s, cells) else None)(d.execute_script(PAGE_STATE_JS)),
            timeout=RUN_ALL_S,
        )

        assert not errors_shown(state), errors_shown(state)
        tunnels = [t for t in state["tables"] if any("169.254.11.0/30" in cell for row in t["rows"] for cell in row)]
        assert tunnels, f"no tunnel table among the outputs: {state['tables']}"
        rows = tunnels[0]["rows"]
        assert [row[0] for row in rows] == ["1", "2"], rows
        assert ["169.254.11.0/30" in row for row in rows] == [True, False]
        assert ["169.254.12.0/30" in row for row in rows] == [False, True]
        assert "inside_cidr" in tunnels[0]["header"], tunnels[0]["header"]

        # The long waits (VPN connection, TGW attachment) as progress bars, finished, not as lines.
        bars = state["progress"]
        assert {b["state"] for b in bars} == {"done"} and len(bars) >= 2, bars
        assert all(b["bar"] == ["1", "1"] for b in bars), bars
        assert any(re.match(r"VPN connection vpn-\w+: .*available in [\d.]+ s", b["text"]) for b in bars), bars
        assert not [t for t in state["stdout"] if re.search(r"VPN connection vpn-\w+: pending", t)], state["stdout"]

        driver.execute_script("document.querySelector('.hybridnet-progress').scrollIntoView({block: 'start'})")
        driver.save_screenshot(str(screenshot))
        print(f"screenshot: {screenshot}")

        # The error check is a real one: a cell that raises is caught by it.
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        last = driver.find_elements("css selector", ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")[-1]
        last.click()
        ActionChains(driver).send_keys(Keys.ESCAPE).send_keys("b").send_keys(Keys.ENTER).send_keys(
            'raise ValueError("a deliberate error")'
        ).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        state = wait_until(
            driver,
            "the deliberate error shown",
            lambda d: (lambda s: s if s["status"] == "idle" and errors_shown(s) else None)(
                d.execute_script(PAGE_STATE_JS)
            ),
            timeout=60,
        )
        assert len(errors_shown(state)) == 1 and "ValueError: a deliberate error" in errors_shown(state)[0], (
            errors_shown(state)
        )
    except BaseException:
        if driver is not None:
            try:
                driver.save_screenshot(str(screenshot))
                print(f"screenshot (at the failure): {screenshot}")
            except Exception:
                pass
        print(log.read_text(errors="replace")[-3000:])
        raise
    finally:
        if driver is not None:
            driver.quit()
        left = stop_server(server, home, env)
        print(f"browser test: {time.monotonic() - started:.1f} s")
    assert not left, f"processes of this test still running after JupyterLab stopped (killed): {left}"
    assert screenshot.stat().st_size > 10_000
