"""Phase 1 and AWS's Site-to-Site VPN logs, against the emulator: with logs.enabled both
tunnels send tunnel activity and BGP logs (json) to the stack's log group, made once
with the params' retention and the stack's tags; a connection made without them gets
them in place; teardown removes the stack's log groups, and only those."""

from __future__ import annotations

from pathlib import Path

import pytest
from hybridnet.aws import connect
from hybridnet.params import load_params
from hybridnet.phases import teardown, tgw_attachment

ROOT = Path(__file__).resolve().parents[2]
STACK = "logs1"


def params(**changes):
    """The lab params as stack STACK, with some fields changed (dotted paths)."""
    from hybridnet.params import parse_params

    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": STACK}).model_dump(mode="python")
    for tunnel in data["vpn"]["tunnels"]:
        tunnel["pre_shared_key"] = tunnel["pre_shared_key"].get_secret_value()
    for path, value in changes.items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return parse_params(data)


@pytest.fixture(scope="module")
def before_logging(own_emulator):
    """The stack's connection as phase 1 made it before it knew about logs."""
    ctx = connect(params(**{"logs.enabled": False}))
    result = tgw_attachment.run(ctx, progress=None)
    assert result.log_group is None
    return ctx, result


def cloudwatch_options(ctx, vpn_id: str) -> list[dict]:
    vpn = tgw_attachment.describe_vpn(ctx, vpn_id)
    return [o["LogOptions"]["CloudWatchLogOptions"] for o in tgw_attachment.ordered_tunnel_options(ctx, vpn)]


def test_a_connection_made_before_logging_plans_modify_then_gets_logs_in_place(before_logging):
    old, first = before_logging
    assert cloudwatch_options(old, first.vpn_connection_id) == [{"LogEnabled": False, "BgpLogEnabled": False}] * 2
    ctx = connect(params())
    steps = tgw_attachment.plan(ctx)
    assert [s.action for s in steps] == ["keep", "modify"]
    assert [(c.field, c.have, c.want) for c in steps[1].changes] == [
        (
            f"tunnel {n} LogOptions",
            "tunnel log off, BGP log off",
            f"tunnel log json to /hybridnet/{STACK}/vpn, BGP log json to /hybridnet/{STACK}/vpn",
        )
        for n in (1, 2)
    ]
    assert (
        steps[1].how == "ModifyVpnTunnelOptions on tunnel 1 (it re-establishes); "
        "ModifyVpnTunnelOptions on tunnel 2 (it re-establishes)"
    )

    after = tgw_attachment.run(ctx, progress=None)
    assert after.vpn_connection_id == first.vpn_connection_id and after.created == []
    assert [c.split(") ", 1)[1] for c in after.changed] == ["LogOptions (ModifyVpnTunnelOptions)"] * 2
    assert after.log_group == f"/hybridnet/{STACK}/vpn"
    group = ctx.client("logs").describe_log_groups(logGroupNamePrefix=after.log_group)["logGroups"][0]
    wanted = {
        "LogEnabled": True,
        "LogGroupArn": group["logGroupArn"],
        "LogOutputFormat": "json",
        "BgpLogEnabled": True,
        "BgpLogGroupArn": group["logGroupArn"],
        "BgpLogOutputFormat": "json",
    }
    assert cloudwatch_options(ctx, after.vpn_connection_id) == [wanted, wanted]
    assert [s.action for s in tgw_attachment.plan(ctx)] == ["keep", "keep"]
    assert tgw_attachment.run(ctx, progress=None).changed == []  # a re-run changes nothing


def test_logs_turned_off_in_the_params_are_turned_off_in_place(before_logging):
    ctx = connect(params())
    vpn_id = tgw_attachment.run(ctx, progress=None).vpn_connection_id
    assert all(o["LogEnabled"] for o in cloudwatch_options(ctx, vpn_id))
    off = connect(params(**{"logs.enabled": False}))
    steps = tgw_attachment.plan(off)
    assert [s.action for s in steps] == ["keep", "modify"]
    assert {(c.have.split(" to ")[0], c.want) for c in steps[1].changes} == {
        ("tunnel log json", "tunnel log off, BGP log off")
    }
    changed = tgw_attachment.run(off, progress=None)
    assert changed.vpn_connection_id == vpn_id and changed.created == []
    assert [(o["LogEnabled"], o["BgpLogEnabled"]) for o in cloudwatch_options(off, vpn_id)] == [(False, False)] * 2
    assert [s.action for s in tgw_attachment.plan(off)] == ["keep", "keep"]  # a re-run changes nothing
    tgw_attachment.run(ctx, progress=None)  # as the other tests expect it: logging on


def test_the_log_group_has_the_retention_and_the_stack_s_tags(before_logging):
    ctx = connect(params())
    tgw_attachment.run(ctx, progress=None)
    logs = ctx.client("logs")
    group = logs.describe_log_groups(logGroupNamePrefix=f"/hybridnet/{STACK}/vpn")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in group] == [(f"/hybridnet/{STACK}/vpn", 14)]
    tags = logs.list_tags_for_resource(resourceArn=group[0]["logGroupArn"])["tags"]
    assert tags["hybridnet:stack"] == STACK and tags["hybridnet:phase"] == "1"
    longer = connect(params(**{"logs.retention_days": 30}))
    assert [s.action for s in tgw_attachment.plan(longer)] == ["keep", "keep"]  # the connection is as it was
    tgw_attachment.run(longer, progress=None)
    assert (
        logs.describe_log_groups(logGroupNamePrefix=f"/hybridnet/{STACK}/vpn")["logGroups"][0]["retentionInDays"] == 30
    )


def test_a_static_connection_sends_tunnel_logs_only(own_emulator):
    ctx = connect(
        params(
            name="logs2",
            allow_replace=True,
            **{
                "vpn.static_routes_only": True,
                "customer_gateway.public_ip": "198.51.100.22",
                "vpn.tunnels.0.inside_cidr": "169.254.31.0/30",
                "vpn.tunnels.1.inside_cidr": "169.254.32.0/30",
            },
        )
    )
    result = tgw_attachment.run(ctx, progress=None)
    options = cloudwatch_options(ctx, result.vpn_connection_id)
    assert [(o["LogEnabled"], o["BgpLogEnabled"]) for o in options] == [(True, False)] * 2
    assert [s.action for s in tgw_attachment.plan(ctx)] == ["keep", "keep"]


def test_teardown_deletes_the_stack_s_log_groups_only(before_logging):
    ctx = connect(params())
    tgw_attachment.run(ctx, progress=None)
    logs = ctx.client("logs")
    tags = {"hybridnet:stack": STACK}
    logs.create_log_group(logGroupName=f"/hybridnet/{STACK}/resolver", tags=tags)  # another phase's group
    logs.create_log_group(logGroupName=f"/hybridnet/{STACK}/handmade")  # under the prefix, not tagged
    logs.create_log_group(logGroupName=f"/hybridnet/{STACK}x/vpn", tags=tags)  # another prefix
    found = {
        rid for kind, rid in teardown.leftovers(ctx)[["kind", "id"]].itertuples(index=False) if kind == "log group"
    }
    assert found == {f"/hybridnet/{STACK}/vpn", f"/hybridnet/{STACK}/resolver"}
    removed = teardown.run(ctx, progress=None)
    assert removed[removed["kind"] == "log group"]["outcome"].tolist() == ["deleted", "deleted"]
    assert removed["kind"].tolist()[-2:] == ["log group", "log group"]  # after the VPN connection that uses it
    assert teardown.leftovers(ctx).empty
    left = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/hybridnet/")["logGroups"]}
    assert {f"/hybridnet/{STACK}/handmade", f"/hybridnet/{STACK}x/vpn"} <= left
    assert not left & {f"/hybridnet/{STACK}/vpn", f"/hybridnet/{STACK}/resolver"}
