"""The data-plane seam against the emulator: hosts by role, through SSM Run Command.

The seed's instances exist in the emulator (named as params/lab.yaml's hosts);
here a test registers them the way the lab does, but running on this machine
(argv prefix []) with a file of its own as the "host is up" signal, so the
SSM path is exercised without root or daemons.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hybridnet import emulator, hosts
from hybridnet.aws import connect
from hybridnet.params import HOST_ROLES, load_params, parse_params

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ctx(own_emulator):
    return connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "hoststest", "lab": "off"}))


@pytest.fixture
def host_up(ctx, tmp_path):
    """router and onprem_client registered as managed instances, up while the file exists."""
    alive = tmp_path / "alive"
    alive.write_text("up")
    instances = [
        {"name_tag": ctx.params.hosts.router.name_tag, "argv_prefix": [], "alive_path": str(alive)},
        {"name_tag": ctx.params.hosts.onprem_client.name_tag, "argv_prefix": [], "alive_path": str(alive)},
    ]
    emulator.admin_call(
        emulator.start(),
        "POST",
        "ssm-instances",
        {"region": ctx.params.region, "replace": True, "instances": instances},
    )
    yield alive
    emulator.admin_call(
        emulator.start(), "POST", "ssm-instances", {"region": ctx.params.region, "replace": True, "instances": []}
    )


def test_the_seed_has_an_instance_per_role_named_as_the_params_say(ctx):
    ec2 = ctx.client("ec2")
    named = {
        t["Value"]: i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        for t in i.get("Tags", [])
        if t["Key"] == "Name"
    }
    want = {
        "router": "192.168.0.10",
        "onprem_dns": "192.168.2.250",
        "onprem_client": "192.168.2.20",
        "vpc_client": "10.0.10.10",
    }
    for role, ip in want.items():
        instance = named[getattr(ctx.params.hosts, role).name_tag]
        assert instance["PrivateIpAddress"] == ip and instance["State"]["Name"] == "running"
    assert ctx.host_plane == "ssm" and hosts.plane(ctx).name == "ssm"


def test_unregistered_instances_are_not_managed_and_nothing_runs(ctx):
    frame = hosts.plane(ctx).describe()
    assert frame["role"].tolist() == list(HOST_ROLES)
    assert set(frame["ssm_status"]) == {"NotManaged"}
    done = hosts.plane(ctx).run("router", ["touch /tmp/hybridnet-must-not-exist"])
    assert done.status == "Unreachable" and not done.ok and done.command_id is None
    assert re.fullmatch(
        r"router i-[0-9a-f]{17} is not a managed instance: it needs the SSM Agent running, "
        r"an instance profile with AmazonSSMManagedInstanceCore, .*",
        done.reason,
    )
    assert not Path("/tmp/hybridnet-must-not-exist").exists()


def test_a_managed_online_host_runs_the_command(ctx, host_up):
    frame = hosts.plane(ctx).describe().set_index("role")
    assert frame.loc["router", "ssm_status"] == "Online" and frame.loc["router", "ip_address"] == "192.168.0.10"
    assert frame.loc["onprem_dns", "ssm_status"] == "NotManaged"
    done = hosts.plane(ctx).run("router", ["echo hello", "echo to stderr >&2"])
    assert done.ok and done.exit_code == 0 and done.stdout == "hello\n"
    assert done.stderr == "to stderr\n" and re.fullmatch(r"[0-9a-f-]{36}", done.command_id)
    listed = ctx.client("ssm").list_commands(CommandId=done.command_id)["Commands"][0]
    assert listed["DocumentName"] == "AWS-RunShellScript" and listed["Comment"] == "hybridnet"


def test_a_failing_command_and_several_hosts_at_once(ctx, host_up):
    done = hosts.plane(ctx).run_many({"router": ["exit 3"], "onprem_client": ["echo ok"], "vpc_client": ["echo never"]})
    assert (done["router"].status, done["router"].exit_code) == ("Failed", 3)
    assert "failed with exit code 3" in done["router"].reason
    assert done["onprem_client"].ok and done["onprem_client"].stdout == "ok\n"
    assert done["vpc_client"].status == "Unreachable"


def test_an_offline_host_names_its_ssm_status(ctx, host_up):
    host_up.unlink()
    done = hosts.plane(ctx).run("router", ["echo hi"])
    assert done.status == "Unreachable"
    assert "SSM Agent has not checked in (PingStatus ConnectionLost)" in done.reason


def test_a_name_that_matches_no_instance_and_params_without_hosts(ctx):
    data = ctx.params.model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key  # model_dump masks secrets
    data["hosts"] = {"router": "no-such-router"}
    data["onprem_dns"]["apply"] = False  # no DNS server named to send its files to
    misnamed = connect(parse_params(data))
    done = hosts.plane(misnamed).run("router", ["true"])
    assert done.status == "Unreachable" and "no instance with Name tag 'no-such-router'" in done.reason
    assert hosts.plane(misnamed).run("onprem_dns", ["true"]).status == "NotConfigured"
    data["hosts"] = {}
    data["router"]["apply"] = False  # nothing to send it to
    none = connect(parse_params(data))
    assert none.host_plane == "none"
    assert set(hosts.plane(none).describe()["ssm_status"]) == {"NotConfigured"}
