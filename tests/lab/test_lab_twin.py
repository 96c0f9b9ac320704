"""The lab's agent and phase 2 through SSM, as a user runs them: the agent plays
AWS's side of the VPN connection phase 1 made; router.apply sends the lab
target's setup to the seed's router instance (hn-cgw) through SSM Run Command,
where it reads its pre-shared keys from Parameter Store and starts real
strongSwan and FRR through the host's systemctl; AWS then reports both tunnels UP."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hybridnet import dataplane, hosts, lab
from hybridnet.aws import connect
from hybridnet.lab.hosts import host_folder
from hybridnet.lab.identity import NAMESPACE_PREFIX as NS_PREFIX
from hybridnet.params import load_params
from hybridnet.phases import router_config, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]
STACK = "twin"


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("twin-params") / "params.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load((ROOT / "params" / "lab.yaml").read_text()), "name": STACK}))
    return path


@pytest.fixture(scope="module")
def ctx(lab_session, own_emulator, params_file):
    if dataplane.lab_running():
        dataplane.lab_down()
    context = connect(load_params(params_file))
    assert context.data_plane == dataplane.LAB, context.data_plane_reason
    agent = dataplane.twin_start(context, params_file)
    assert not dataplane.lab_running()  # no VPN connection yet: nothing to play
    tgw_attachment.run(context, progress=None)
    assert dataplane.wait_for_twin(context), Path(agent["log"]).read_text()[-3000:]
    yield context
    dataplane.lab_down()


@pytest.fixture(scope="module")
def applied(ctx):
    vpn, cfg = router_config.load_connection(ctx)
    deployment = router_config.deploy(ctx, vpn, cfg)
    assert deployment.ok, deployment.table.to_string()
    return vpn, cfg, deployment


def test_the_agent_plays_only_aws_s_side_until_the_router_is_set_up(ctx):
    running = {d.name for d in lab.LabRuntime.load(dataplane.LAB_DIR).daemons}
    assert {f"charon@{NS_PREFIX}aws", f"bgpd@{NS_PREFIX}aws"} <= running
    assert not {f"{d}@{NS_PREFIX}cgw" for d in ("charon", "zebra", "bgpd")} & running  # the router: not yet
    assert hosts.plane(ctx).wait_online("router", 10) is None  # the seed's router instance is online


def test_router_apply_brings_both_tunnels_up_through_ssm(ctx, applied):
    vpn, cfg, deployment = applied
    assert deployment.table["step"].tolist() == [
        "router online in SSM",
        "pre-shared keys in Parameter Store",
        "lab/setup-router-lab.sh on the router",
        "tunnels UP (AWS's view)",
    ]
    assert deployment.table["ok"].all()
    assert router_config.tunnels_up(ctx, vpn["VpnConnectionId"])
    view, source = router_config.router_view(ctx, vpn)
    assert "through SSM" in source
    assert view["ike_sa"].tolist() == ["ESTABLISHED", "ESTABLISHED"], view.to_string()
    assert view["bgp_state"].tolist() == ["Established", "Established"], view.to_string()
    assert (view["prefixes_received"] >= 1).all()
    running = {d.name for d in lab.LabRuntime.load(dataplane.LAB_DIR).daemons}
    assert {f"charon@{NS_PREFIX}cgw", f"zebra@{NS_PREFIX}cgw", f"bgpd@{NS_PREFIX}cgw"} <= running


def test_no_pre_shared_key_travels_in_a_command_or_lands_on_this_machine_s_etc(ctx, applied):
    ssm = ctx.client("ssm")
    history = ssm.list_commands()["Commands"]
    assert history
    text = repr(history) + "".join(
        ssm.get_command_invocation(CommandId=c["CommandId"], InstanceId=c["InstanceIds"][0])["StandardOutputContent"]
        for c in history
        if c["InstanceIds"]
    )
    for number in (1, 2):
        assert f"strongswan_awsvpn{number}" not in text
    assert not Path("/etc/swanctl/conf.d/hybridnet-aws.conf").exists()  # the router's own /etc got it
    installed = host_folder(dataplane.LAB_DIR, f"{NS_PREFIX}cgw", "/etc/swanctl") / "conf.d" / "hybridnet-aws.conf"
    assert oct(installed.stat().st_mode & 0o777) == "0o600" and "strongswan_awsvpn1" in installed.read_text()


def test_applying_again_is_safe(ctx, applied):
    vpn, cfg, _ = applied
    again = router_config.deploy(ctx, vpn, cfg)
    assert again.ok, again.table.to_string()


def test_the_router_s_systemctl_plays_only_its_own_units(ctx):
    done = hosts.plane(ctx).run("router", ["systemctl restart apache2"], timeout=30)
    assert done.status == "Failed" and done.exit_code == 5
    assert "Unit apache2.service not found (this lab host plays: frr, strongswan)" in done.stdout + done.stderr


@pytest.fixture(scope="module")
def dns(ctx, applied):
    from hybridnet.phases import hybrid_dns

    result = hybrid_dns.run(ctx, progress=None)
    return result, hybrid_dns.apply_onprem_bind(ctx, result.inbound.ips)


def test_onprem_dns_apply_installs_checks_and_starts_the_dns_server_s_own_named(ctx, dns):
    from hybridnet.phases import hybrid_dns

    _, onprem = dns
    assert onprem.ok, onprem.table.to_string()
    etc_bind = host_folder(dataplane.LAB_DIR, f"{NS_PREFIX}idc", "/etc/bind")
    assert "forward only" in (etc_bind / "named.conf.local").read_text()
    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    named = runtime.daemon(f"named@{NS_PREFIX}idc")
    assert runtime.is_running(named) and named.argv[-1] == "/etc/bind/named.conf"  # the host's own config
    assert hybrid_dns.servers_answering(ctx).ok
    matrix = hybrid_dns.probe_matrix(ctx)
    assert matrix["ok"].all(), matrix.to_string()


def test_a_config_named_checkconf_refuses_is_rolled_back_and_named_keeps_running(ctx, dns):
    from hybridnet.render.apply import apply_commands
    from hybridnet.render.dns import ONPREM_SETUP_SCRIPT, onprem_bind_files_from_params
    from hybridnet.render.router import RenderedFile

    result, _ = dns
    etc_bind = host_folder(dataplane.LAB_DIR, f"{NS_PREFIX}idc", "/etc/bind")
    good = (etc_bind / "named.conf.local").read_text()
    runtime = lab.LabRuntime.load(dataplane.LAB_DIR)
    named = runtime.daemon(f"named@{NS_PREFIX}idc")
    files = [
        f if f.name != "named.conf.local" else RenderedFile(f.name, 'zone "broken" {\n', f.mode)
        for f in onprem_bind_files_from_params(ctx.params, inbound_ips=result.inbound.ips)
    ]
    done = hosts.plane(ctx).run(
        "onprem_dns",
        apply_commands(files, ONPREM_SETUP_SCRIPT, {}, ctx.params.region, workdir="/var/lib/hybridnet/dns"),
        timeout=60,
    )
    assert done.status == "Failed" and "the previous files are back, named was not reloaded" in done.stderr
    assert (etc_bind / "named.conf.local").read_text() == good
    assert runtime.is_running(named) and lab.LabRuntime.load(dataplane.LAB_DIR).daemon(named.name).pid == named.pid


BGP_BACK_S = 90.0  # sanity bound: IPsec is up when deploy returns; BGP re-opens on its connect timer


def _router_view_when_established(ctx, vpn):
    """The router's view once both BGP sessions are Established (or the bound passed):
    after a change, the sessions open again on bgpd's own retry timer."""
    import time

    deadline = time.monotonic() + BGP_BACK_S
    while True:
        view, _ = router_config.router_view(ctx, vpn)
        if view["bgp_state"].tolist() == ["Established", "Established"] or time.monotonic() > deadline:
            return view
        time.sleep(1.0)


def test_a_changed_asn_and_key_are_applied_in_place_and_the_tunnels_come_back(ctx, applied, params_file, tmp_path):
    """Phase 1 moves the same VPN connection to a new customer gateway (ASN 65016 ->
    65020) and sets tunnel 2's new key; the agent re-plays AWS's side from the API,
    phase 2 sends the router its new setup, and both tunnels are UP again."""
    vpn, _, _ = applied
    data = yaml.safe_load(params_file.read_text())
    data["customer_gateway"]["bgp_asn"] = 65020
    data["vpn"]["tunnels"][1]["pre_shared_key"] = "changed_key_2"
    changed_file = tmp_path / "changed.yaml"
    changed_file.write_text(yaml.safe_dump(data))
    changed = connect(load_params(changed_file))
    result = tgw_attachment.run(changed, progress=None)
    assert result.vpn_connection_id == vpn["VpnConnectionId"] and result.customer_gateway_asn == 65020
    assert len(result.changed) == 3, result.changed  # the move, the old gateway gone, tunnel 2's key
    new_vpn, cfg = router_config.load_connection(changed)
    assert {t.cgw_asn for t in cfg.tunnels} == {65020}
    deployment = router_config.deploy(changed, new_vpn, cfg)
    assert deployment.ok and deployment.table["ok"].all(), deployment.table.to_string()
    view = _router_view_when_established(changed, new_vpn)
    assert view["bgp_state"].tolist() == ["Established", "Established"], view.to_string()


def test_a_changed_inside_cidr_and_crypto_are_applied_in_place_and_the_tunnels_come_back(
    ctx, applied, params_file, tmp_path
):
    """Tunnel 1's inside CIDR and both tunnels' IKE version and proposals change on the
    same connection (ModifyVpnTunnelOptions): the agent re-keys AWS's side with the
    new values, phase 2 sends the router its new setup, BGP runs over the new /30."""
    vpn, _, _ = applied
    data = yaml.safe_load(params_file.read_text())
    data["customer_gateway"]["bgp_asn"] = 65020  # as the test before left it (the same when run alone)
    data["vpn"]["tunnels"][1]["pre_shared_key"] = "changed_key_2"
    data["vpn"]["tunnels"][0]["inside_cidr"] = "169.254.21.0/30"
    data["vpn"]["crypto"].update(
        ike_versions=["ikev2"],
        phase1_encryption=["AES256"],
        phase2_encryption=["AES256"],
        phase1_integrity=["SHA2-256"],
        phase2_integrity=["SHA2-256"],
        phase1_dh_groups=[14],
        phase2_dh_groups=[14],
    )
    changed_file = tmp_path / "crypto.yaml"
    changed_file.write_text(yaml.safe_dump(data))
    changed = connect(load_params(changed_file))
    steps = tgw_attachment.plan(changed)
    assert steps[-1].action == "modify" and "tunnel 1 TunnelInsideCidr" in [c.field for c in steps[-1].changes]
    result = tgw_attachment.run(changed, progress=None)
    assert result.vpn_connection_id == vpn["VpnConnectionId"] and result.tunnels[0].inside_cidr == "169.254.21.0/30"
    new_vpn, cfg = router_config.load_connection(changed)
    assert {t.ike.versions for t in cfg.tunnels} == {("ikev2",)}
    deployment = router_config.deploy(changed, new_vpn, cfg)
    assert deployment.ok and deployment.table["ok"].all(), deployment.table.to_string()
    view = _router_view_when_established(changed, new_vpn)
    assert view["bgp_peer"].tolist()[0] == "169.254.21.1", view.to_string()
    assert view["bgp_state"].tolist() == ["Established", "Established"], view.to_string()
    assert [s.action for s in tgw_attachment.plan(changed)] == ["keep", "keep"]


RESTART_ONLINE_S = 10.0  # sanity only: measured 0.5-1.1 s (a tick of the agent and a registration)


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_after_an_emulator_restart_the_agent_registers_the_hosts_again(ctx, applied, how):
    """The emulator comes back with the account (its saved state), not with the lab's
    registrations: the agent notices the new start and registers the hosts again.
    Killed and left dead for a few of the agent's ticks, it is noticed as quickly:
    each tick asks emulator.status() before any AWS call, so no call waits on it."""
    import signal
    import time

    from hybridnet import emulator
    from hybridnet.emulator.process import _is_ours
    from hybridnet.waiting import poll

    vpn_id = tgw_attachment.find_vpn_connection(ctx)["VpnConnectionId"]
    plane = hosts.plane(ctx)
    before = plane.describe()
    online = set(before.loc[before["ssm_status"] == "Online", "instance_id"])
    assert {"router", "onprem_dns"} <= set(before.loc[before["ssm_status"] == "Online", "role"]), before.to_string()
    log = Path(dataplane.twin_status()["log"])
    offset = log.stat().st_size
    if how == "kill":
        old = emulator.status()
        os.kill(old.pid, signal.SIGKILL)
        assert poll(lambda: not _is_ours(old.pid), timeout=10, interval=0.05)
        time.sleep(3.0)  # the agent's ticks meet a dead emulator
    else:
        emulator.stop()
    info = emulator.start()
    answered = time.monotonic()
    assert info.restored_from and info.endpoint == ctx.endpoint_url  # the same port, the same account
    assert tgw_attachment.find_vpn_connection(ctx)["VpnConnectionId"] == vpn_id

    def all_online() -> bool:
        now = plane.describe()
        return online <= set(now.loc[now["ssm_status"] == "Online", "instance_id"])

    assert poll(all_online, timeout=RESTART_ONLINE_S, interval=0.1), plane.describe().to_string()
    print(f"{how}: every host Online again {time.monotonic() - answered:.2f} s after the emulator answered")
    assert plane.run("router", ["true"], timeout=30).ok
    said = log.read_bytes()[offset:].decode(errors="replace")
    assert f"the emulator restarted ({info.started_at}): the seed's instances registered again" in said, said
    if how == "kill":
        assert "the emulator does not answer (stopped, or restarting): no AWS call until it does" in said, said


def test_lab_down_stops_the_agent_too(ctx, applied):
    assert dataplane.twin_status() is not None
    dataplane.lab_down()
    assert dataplane.twin_status() is None and not dataplane.lab_running()
    assert not os.path.exists(f"/run/netns/{NS_PREFIX}cgw")
