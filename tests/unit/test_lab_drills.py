"""The fault drills' file edits and packages, without a lab: what they change in the
customer gateway's swanctl.conf (and only that, put back exactly), and the broken
connect handler packages."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hybridnet.lab.drills import _secret_section, edit_swanctl, edit_swanctl_files, swanctl_files

CGW_CONF = Path(__file__).resolve().parents[1] / "lab" / "fixtures" / "cgw_lab" / "swanctl.conf"


def test_a_tunnel_s_values_change_there_only_and_come_back_exactly():
    text = CGW_CONF.read_text()
    secret = _secret_section([text], "203.0.113.11", "tu1")
    edited, before = edit_swanctl(
        text,
        [
            (("connections", "tu1"), "proposals", "aes256-sha512-modp4096"),
            (("connections", "tu1", "children", "*"), "esp_proposals", "aes256-sha256"),
            (("secrets", secret), "secret", '"wrong"'),
        ],
    )
    changed = [(a, b) for a, b in zip(text.splitlines(), edited.splitlines()) if a != b]
    assert [b.strip() for _, b in changed] == [
        "proposals = aes256-sha512-modp4096",
        "esp_proposals = aes256-sha256",
        "esp_proposals = aes256-sha256",
        'secret = "wrong"',
    ]
    assert {tuple(path) for path, _, _ in before} == {
        ("connections", "tu1"),
        ("connections", "tu1", "children", "bgp"),
        ("connections", "tu1", "children", "lan"),
        ("secrets", "ike-tu1"),
    }
    restored, _ = edit_swanctl(edited, [(tuple(path), key, value) for path, key, value in before])
    assert restored == text


def test_a_setting_that_is_not_there_is_refused():
    with pytest.raises(ValueError, match="no connections.tu9.proposals"):
        edit_swanctl(CGW_CONF.read_text(), [(("connections", "tu9"), "proposals", "x")])


def test_the_router_s_conf_d_is_edited_where_the_connections_are(tmp_path):
    """The router's setup installs its connections in conf.d; swanctl.conf includes them."""
    (tmp_path / "conf.d").mkdir()
    top = tmp_path / "swanctl.conf"
    top.write_text("# as Debian ships it\ninclude conf.d/*.conf\n")
    (tmp_path / "conf.d" / "hybridnet-aws.conf").write_text(CGW_CONF.read_text())
    files = swanctl_files(top)
    assert files == [top, tmp_path / "conf.d" / "hybridnet-aws.conf"]
    before = edit_swanctl_files(files, [(("connections", "tu1"), "proposals", "aes256-sha512-modp4096")])
    assert before == [[str(files[1]), ["connections", "tu1"], "proposals", "aes128-sha1-modp1024"]]
    assert "proposals = aes256-sha512-modp4096" in files[1].read_text()
    assert top.read_text() == "# as Debian ships it\ninclude conf.d/*.conf\n"


@pytest.mark.parametrize("kind, says", [("error", "raise RuntimeError"), ("timeout", "time.sleep(60)")])
def test_a_broken_handler_package_keeps_the_real_handler_s_name(kind, says):
    from hybridnet import handlers
    from hybridnet.faults import broken_handler_package

    with zipfile.ZipFile(io.BytesIO(broken_handler_package(kind))) as zf:
        assert zf.namelist() == [f"{handlers.MODULE_NAME}.py"]
        source = zf.read(f"{handlers.MODULE_NAME}.py").decode()
    assert "def lambda_handler(event, context):" in source and says in source
    compile(source, "connect_handler.py", "exec")
    assert handlers.HANDLER == f"{handlers.MODULE_NAME}.lambda_handler"
