"""Phase 1 against the emulator: creates once, finds again, never duplicates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hybridnet.aws import connect
from hybridnet.params import load_params
from hybridnet.phases import tgw_attachment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ctx(own_emulator):
    return connect(load_params(ROOT / "params" / "lab.yaml", overrides={"name": "phase1test"}))


def test_phase1_twice_creates_one_of_each(ctx):
    messages: list[str] = []
    first = tgw_attachment.run(ctx, progress=messages.append)
    second = tgw_attachment.run(ctx, progress=messages.append)

    assert first.created == [first.customer_gateway_id, first.vpn_connection_id]
    assert second.created == []
    assert (second.vpn_connection_id, second.attachment_id) == (first.vpn_connection_id, first.attachment_id)

    ec2 = ctx.client("ec2")
    stack = ctx.stack_filters()
    assert len(ec2.describe_customer_gateways(Filters=stack)["CustomerGateways"]) == 1
    assert len(ec2.describe_vpn_connections(Filters=stack)["VpnConnections"]) == 1
    attachments = ec2.describe_transit_gateway_attachments(Filters=stack)["TransitGatewayAttachments"]
    assert [a["ResourceId"] for a in attachments] == [first.vpn_connection_id]
    # The wait really waited: pending was seen before available.
    assert f"VPN connection {first.vpn_connection_id}: pending" in messages


def test_phase1_result_is_what_the_seed_checks(ctx):
    result = tgw_attachment.run(ctx, progress=None)
    assert result.vpn_state == "available" and result.attachment_state == "available"
    assert (result.association_state, result.propagation_state) == ("associated", "enabled")
    assert result.amazon_side_asn == 64512
    tunnels = tgw_attachment.tunnels_frame(result)
    assert list(tunnels["inside_cidr"]) == ["169.254.11.0/30", "169.254.12.0/30"]
    assert list(tunnels["cgw_inside_ip"]) == ["169.254.11.2", "169.254.12.2"]
    assert tunnels["outside_ip"].is_unique
    assert set(tunnels["status"]) == {"DOWN"}
    text = tunnels.to_string() + str(result.to_dict())
    assert "strongswan_awsvpn" not in text and "******** (18 chars)" in text


def test_resource_table_shows_the_customer_gateway_as_entered(ctx):
    result = tgw_attachment.run(ctx, progress=None)
    cgw = ctx.params.customer_gateway
    state = tgw_attachment.summary_frame(result).loc["customer gateway", "state"]
    assert state == f"IP {cgw.public_ip}, BGP ASN {cgw.bgp_asn}; reused"
    assert (result.customer_gateway_ip, result.customer_gateway_asn) == ("198.51.100.10", 65016)


def test_missing_transit_gateway_is_a_clear_error(ctx):
    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": "phase1test"}).model_dump(mode="python")
    data["transit_gateway"]["amazon_side_asn"] = 65000
    from hybridnet.aws import AwsContext
    from hybridnet.params import parse_params

    other = AwsContext(parse_params(data), ctx.session, ctx.endpoint_url, ctx.waiter_delay)
    with pytest.raises(tgw_attachment.PhaseError, match="no available transit gateway with Amazon-side ASN 65000"):
        tgw_attachment.find_transit_gateway(other)


def changed_params(**changes):
    """The phase1test params with some fields changed (dotted paths)."""
    from hybridnet.params import parse_params

    data = load_params(ROOT / "params" / "lab.yaml", overrides={"name": "phase1test"}).model_dump(mode="python")
    for tunnel, key in zip(data["vpn"]["tunnels"], ("strongswan_awsvpn1", "strongswan_awsvpn2")):
        tunnel["pre_shared_key"] = key  # model_dump keeps SecretStr objects
    for path, value in changes.items():
        *parents, last = path.split(".")
        target = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
    return parse_params(data)


def test_the_plan_keeps_what_matches_the_params(ctx):
    tgw_attachment.run(ctx, progress=None)
    plan = tgw_attachment.plan_frame(ctx)
    assert list(plan["action"]) == ["keep", "keep"]
    assert list(plan["resource"].str.split(" ").str[:2].str.join(" ")) == ["customer gateway", "VPN connection"]


def test_a_changed_tunnel_option_is_a_modify_and_a_key_is_never_shown(ctx):
    tgw_attachment.run(ctx, progress=None)
    changed = connect(
        changed_params(**{"vpn.tunnels.1.pre_shared_key": "another_key_2", "vpn.crypto.dpd_timeout_seconds": 40})
    )
    steps = tgw_attachment.plan(changed)
    assert [s.action for s in steps] == ["keep", "modify"]
    fields = [(c.field, c.have, c.want) for c in steps[1].changes]
    assert ("tunnel 1 DPDTimeoutSeconds", "30", "40") in fields and ("tunnel 2 DPDTimeoutSeconds", "30", "40") in fields
    assert ("tunnel 2 pre-shared key", "(secret)", "(a different secret)") in fields
    text = tgw_attachment.plan_frame(changed).to_string()
    assert "another_key_2" not in text and "strongswan_awsvpn" not in text


def test_a_changed_bgp_asn_is_planned_then_applied_in_place(ctx):
    """The engineer fixes a typo in the customer gateway's ASN: a new gateway, the same
    VPN connection moved to it (ModifyVpnConnection), the old gateway removed; not a
    second VPN connection refused with 'inside CIDR already in use'."""
    first = tgw_attachment.run(ctx, progress=None)
    changed = connect(changed_params(**{"customer_gateway.bgp_asn": 65020}))
    steps = tgw_attachment.plan(changed)
    assert [(s.kind, s.action) for s in steps] == [("customer gateway", "replace"), ("VPN connection", "modify")]
    assert [(c.field, c.have, c.want) for c in steps[0].changes] == [("bgp_asn", "65016", "65020")]
    assert steps[1].changes[0].field == "customer_gateway" and "ModifyVpnConnection" in steps[1].how

    after = tgw_attachment.run(changed, progress=None)
    assert after.vpn_connection_id == first.vpn_connection_id  # the same tunnels, addresses and keys
    assert after.customer_gateway_asn == 65020 and after.created == [after.customer_gateway_id]
    assert after.changed == [
        f"{first.vpn_connection_id}: customer gateway {first.customer_gateway_id} -> {after.customer_gateway_id} "
        "(ModifyVpnConnection)",
        f"{first.customer_gateway_id}: deleted (no VPN connection uses it any more)",
    ]
    ec2 = ctx.client("ec2")
    live = [
        g
        for g in ec2.describe_customer_gateways(Filters=ctx.stack_filters())["CustomerGateways"]
        if g["State"] == "available"
    ]
    assert [g["BgpAsn"] for g in live] == ["65020"]
    assert [s.action for s in tgw_attachment.plan(changed)] == ["keep", "keep"]
    back = tgw_attachment.run(ctx, progress=None)  # and back again, for the other tests
    assert back.customer_gateway_asn == 65016 and back.vpn_connection_id == first.vpn_connection_id


def test_changed_tunnel_options_are_applied_to_the_same_connection(ctx):
    first = tgw_attachment.run(ctx, progress=None)
    changed = connect(
        changed_params(
            **{"vpn.tunnels.0.inside_cidr": "169.254.21.0/30", "vpn.tunnels.1.pre_shared_key": "another_key_2"}
        )
    )
    after = tgw_attachment.run(changed, progress=None)
    assert after.vpn_connection_id == first.vpn_connection_id and after.created == []
    assert [re.sub(r"\(\d+\.\d+\.\d+\.\d+\)", "(IP)", c) for c in after.changed] == [
        f"{first.vpn_connection_id}: tunnel 1 (IP) TunnelInsideCidr (ModifyVpnTunnelOptions)",
        f"{first.vpn_connection_id}: tunnel 2 (IP) pre-shared key (ModifyVpnTunnelOptions)",
    ]
    options = tgw_attachment.ordered_tunnel_options(changed, tgw_attachment.describe_vpn(ctx, first.vpn_connection_id))
    assert (options[0]["TunnelInsideCidr"], options[1]["PreSharedKey"]) == ("169.254.21.0/30", "another_key_2")
    assert "another_key_2" not in str(after.to_dict())  # the key stays masked in the result
    assert len(ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]) == 1
    tgw_attachment.run(ctx, progress=None)  # back again
    assert [s.action for s in tgw_attachment.plan(ctx)] == ["keep", "keep"]


def test_what_cannot_change_in_place_is_refused_before_anything_changes(ctx):
    tgw_attachment.run(ctx, progress=None)
    before = ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]
    static = connect(changed_params(**{"vpn.static_routes_only": True}))
    assert [s.action for s in tgw_attachment.plan(static)] == ["keep", "replace"]
    with pytest.raises(
        tgw_attachment.PhaseError,
        match=r"VPN connection vpn-\w+: static_routes_only False -> True: "
        r"AWS cannot change this in place \(DeleteVpnConnection.*\); "
        r"set allow_replace: true in the params",
    ):
        tgw_attachment.run(static, progress=None)
    assert ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"] == before


def _live_connections(ctx) -> list[dict]:
    return [
        v
        for v in ctx.client("ec2").describe_vpn_connections(Filters=ctx.stack_filters())["VpnConnections"]
        if v["State"] != "deleted"
    ]


def test_allow_replace_deletes_the_connection_and_creates_it_anew(ctx):
    """With allow_replace the old connection goes first (its tunnels' inside CIDRs are
    free again) and a new one takes its place: one live connection, new id."""
    first = tgw_attachment.run(ctx, progress=None)
    static = connect(changed_params(**{"vpn.static_routes_only": True, "allow_replace": True}))
    after = tgw_attachment.run(static, progress=None)
    assert after.vpn_connection_id != first.vpn_connection_id and after.created == [after.vpn_connection_id]
    assert after.changed == [f"{first.vpn_connection_id}: deleted, to be replaced (allow_replace)"]
    assert [v["VpnConnectionId"] for v in _live_connections(ctx)] == [after.vpn_connection_id]
    assert [t.inside_cidr for t in after.tunnels] == [t.inside_cidr for t in first.tunnels]
    assert [s.action for s in tgw_attachment.plan(static)] == ["keep", "keep"]
    back = tgw_attachment.run(connect(changed_params(allow_replace=True)), progress=None)  # for the other tests
    assert [v["VpnConnectionId"] for v in _live_connections(ctx)] == [back.vpn_connection_id]
    assert back.customer_gateway_id == first.customer_gateway_id
