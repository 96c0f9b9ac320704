"""Client VPN: endpoint status, associations, connections and recent denials."""

from __future__ import annotations

import pandas as pd

from ..aws import AwsContext, paginate

ENDPOINT_COLUMNS = ["endpoint_id", "status", "client_cidr", "associations", "active", "denied", "connect_handler"]
CONNECTION_COLUMNS = ["endpoint_id", "connection_id", "common_name", "client_ip", "status", "message"]


def endpoints_and_connections(
    ctx: AwsContext, endpoint_ids: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    ec2 = ctx.client("ec2")
    if endpoint_ids:
        endpoints = paginate(
            ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", ClientVpnEndpointIds=endpoint_ids
        )
    else:
        endpoints = paginate(ec2, "describe_client_vpn_endpoints", "ClientVpnEndpoints", Filters=ctx.stack_filters())
    endpoint_rows, connection_rows = [], []
    for endpoint in endpoints:
        endpoint_id = endpoint["ClientVpnEndpointId"]
        if endpoint["Status"]["Code"] == "deleted":
            continue
        networks = paginate(
            ec2, "describe_client_vpn_target_networks", "ClientVpnTargetNetworks", ClientVpnEndpointId=endpoint_id
        )
        connections = paginate(ec2, "describe_client_vpn_connections", "Connections", ClientVpnEndpointId=endpoint_id)
        for c in connections:
            connection_rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "connection_id": c["ConnectionId"],
                    "common_name": c.get("CommonName", ""),
                    "client_ip": c.get("ClientIp", ""),
                    "status": c["Status"]["Code"],
                    "message": c["Status"].get("Message", ""),
                }
            )
        handler = endpoint.get("ClientConnectOptions", {})
        endpoint_rows.append(
            {
                "endpoint_id": endpoint_id,
                "status": endpoint["Status"]["Code"],
                "client_cidr": endpoint.get("ClientCidrBlock", ""),
                "associations": sum(1 for n in networks if n["Status"]["Code"] == "associated"),
                "active": sum(1 for c in connections if c["Status"]["Code"] == "active"),
                "denied": sum(
                    1 for c in connections if c["Status"]["Code"] == "terminated" and c["Status"].get("Message")
                ),
                "connect_handler": handler.get("LambdaFunctionArn", "-") if handler.get("Enabled") else "-",
            }
        )
    return (
        pd.DataFrame(endpoint_rows, columns=ENDPOINT_COLUMNS),
        pd.DataFrame(connection_rows, columns=CONNECTION_COLUMNS),
    )


PROBE_COLUMNS = ["endpoint_id", "event", "public_ip", "expected_allow", "allow", "failure_reason", "message"]
# The health check waits this long for the handler (Client VPN waits 30 s): a handler
# slower than this is reported as not answering, and the health check stays short.
PROBE_WAIT_S = 10.0


def handler_probe(ctx: AwsContext, endpoints: pd.DataFrame) -> pd.DataFrame:
    """Ask each endpoint's deployed connect handler about a user the params' policy
    admits and one it refuses, and compare with what that policy decides."""
    from .. import handlers
    from ..phases import connect_handler

    if ctx.params.connect_handler is None:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    intended = connect_handler.environment(ctx)
    inside, outside = connect_handler.sample_ips(ctx)
    rows = []
    for row in endpoints.itertuples():
        if row.connect_handler == "-":
            continue
        name = row.connect_handler.rsplit(":", 1)[-1]
        for what, ip in (("a user the policy admits", inside), ("a user the policy refuses", outside)):
            event = handlers.sample_event(
                ip,
                common_name="healthcheck",
                endpoint_id=row.endpoint_id,
                connection_id="cvpn-connection-00000000000000000",
            )
            expected = handlers.decide_locally(event, intended)
            actual = connect_handler.invoke(ctx, name, event, wait_s=PROBE_WAIT_S)
            problems = "; ".join(actual.problems)
            rows.append(
                {
                    "endpoint_id": row.endpoint_id,
                    "event": what,
                    "public_ip": ip,
                    "expected_allow": expected.allow,
                    "allow": actual.allow,
                    "failure_reason": actual.failure_reason or "",
                    "message": f"{actual.message or '-'}{f' ({problems})' if problems else ''}",
                }
            )
            if actual.failure_reason == handlers.REASON_TIMEOUT:
                break  # one wait is enough to know
    return pd.DataFrame(rows, columns=PROBE_COLUMNS)
