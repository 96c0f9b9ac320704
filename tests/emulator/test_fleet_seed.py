"""The emulator holds a fleet with a known truth (POST /_hybridnet/fleet/seed), read back as the
fleet health check reads it: through an assumed reader role, account by account, Region by Region;
throttles and disabled Regions answered as AWS answers them (emulator/fleet/)."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hybridnet import emulator
from hybridnet.emulator.fleet import client as fleet

ONE_TRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # no retry at all
ACCOUNTS = ("111111111111", "222222222222")
DENIED = "333333333333"
REGIONS = ("eu-west-1", "us-east-1")
ROLE = "hybridnet-fleet-reader"
FLAPPING = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1]


def connections(accounts=ACCOUNTS, regions=REGIONS, flap=FLAPPING) -> list[dict]:
    """Per account and Region: one UP (TGW, propagated), one DOWN (VGW), one flapping (TGW, not propagated)."""
    specs = []
    for a, account in enumerate(accounts):
        for r, region in enumerate(regions):
            up, down, flapping = (f"10.{128 + a}.{10 * r + k}.0/24" for k in range(3))
            specs += [
                {
                    "account": account,
                    "region": region,
                    "name": "branch-up",
                    "gateway": "tgw",
                    "tags": {"team": "net"},
                    "propagate": True,
                    "onprem_prefixes": [up],
                    "tunnels": [
                        {"status": "UP", "accepted_routes": 1, "message": "1 BGP ROUTES", "history": [1] * 10},
                        {"status": "UP", "accepted_routes": 1, "message": "1 BGP ROUTES", "history": [1] * 10},
                    ],
                },
                {
                    "account": account,
                    "region": region,
                    "name": "branch-down",
                    "gateway": "vgw",
                    "onprem_prefixes": [down],
                    "tunnels": [
                        {"status": "DOWN", "accepted_routes": 0, "message": "IPSEC IS DOWN", "history": [0] * 10},
                        {"status": "DOWN", "accepted_routes": 0, "message": "IPSEC IS DOWN", "history": [0] * 10},
                    ],
                },
                {
                    "account": account,
                    "region": region,
                    "name": "branch-flap",
                    "gateway": "tgw",
                    "propagate": False,
                    "onprem_prefixes": [flapping],
                    "tunnels": [
                        {
                            "status": "UP" if flap[-1] else "DOWN",
                            "accepted_routes": flap[-1],
                            "message": "flapping",
                            "history": flap,
                        },
                        {"status": "DOWN", "accepted_routes": 0, "message": "", "history": [0] * len(flap)},
                    ],
                },
            ]
    return specs


@pytest.fixture(scope="module")
def info(own_emulator) -> emulator.EmulatorInfo:
    return own_emulator


@pytest.fixture(scope="module")
def truth(info) -> dict:
    spec = {
        "reader_role": ROLE,
        "deny": [DENIED],
        "connections": connections() + [{**connections(accounts=[DENIED], regions=["eu-west-1"])[0]}],
        "resolver_endpoints": [
            {
                "account": ACCOUNTS[0],
                "region": "eu-west-1",
                "direction": "INBOUND",
                "status": "ACTION_NEEDED",
                "name": "inbound",
            }
        ],
        "client_vpn_endpoints": [
            {"account": ACCOUNTS[1], "region": "us-east-1", "status": "pending-associate", "name": "remote-users"}
        ],
    }
    return {"spec": spec, "answer": fleet.seed(spec)}


def reader(info, account: str, service: str, region: str, config: Config = ONE_TRY):
    """A client with the reader role's temporary credentials (sts:AssumeRole from the default account)."""
    sts = emulator.client("sts", region, info, config=ONE_TRY)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="fleet")["Credentials"]
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=info.endpoint,
        config=config,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def seeded(truth, account, region, name) -> tuple[dict, dict]:
    spec = next(
        c for c in truth["spec"]["connections"] if (c["account"], c["region"], c["name"]) == (account, region, name)
    )
    answer = next(
        c for c in truth["answer"]["connections"] if (c["account"], c["region"], c["name"]) == (account, region, name)
    )
    return spec, answer


def test_the_answer_names_every_connection_and_role(truth):
    answer = truth["answer"]
    assert len(answer["connections"]) == len(truth["spec"]["connections"])
    assert answer["roles"] == {a: f"arn:aws:iam::{a}:role/{ROLE}" for a in (*ACCOUNTS, DENIED)}
    ips = [ip for c in answer["connections"] for ip in c["outside_ips"]]
    assert len(ips) == len(set(ips)) == 2 * len(answer["connections"])
    for c in answer["connections"]:
        assert c["customer_gateway_ip"].startswith(("192.0.2.", "198.51.100.")), c
    assert answer["seconds"] < 10


@pytest.mark.parametrize("account", ACCOUNTS)
@pytest.mark.parametrize("region", REGIONS)
def test_vgw_telemetry_is_the_seed(info, truth, account, region):
    ec2 = reader(info, account, "ec2", region)
    found = {
        t["Value"]: c
        for c in ec2.describe_vpn_connections()["VpnConnections"]
        for t in c.get("Tags", [])
        if t["Key"] == "Name"
    }
    assert set(found) == {"branch-up", "branch-down", "branch-flap"}
    for name, connection in found.items():
        spec, answer = seeded(truth, account, region, name)
        assert connection["VpnConnectionId"] == answer["vpn_connection_id"]
        assert connection["State"] == "available"
        assert {t["Key"]: t["Value"] for t in connection["Tags"]} == {**spec.get("tags", {}), "Name": name}
        gateway = connection.get("TransitGatewayId") or connection.get("VpnGatewayId")
        assert gateway == answer["gateway_id"]
        assert gateway.startswith("tgw-" if spec["gateway"] == "tgw" else "vgw-")
        assert [
            (t["OutsideIpAddress"], t["Status"], t["StatusMessage"], t["AcceptedRouteCount"])
            for t in connection["VgwTelemetry"]
        ] == [
            (ip, t["status"], t["message"], t["accepted_routes"])
            for ip, t in zip(answer["outside_ips"], spec["tunnels"])
        ]


def tunnel_state(info, account, region, connection: dict, end: dt.datetime, minutes: int = 30) -> list[list[float]]:
    cloudwatch = reader(info, account, "cloudwatch", region)
    queries = [
        {
            "Id": f"t{i}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/VPN",
                    "MetricName": "TunnelState",
                    "Dimensions": [
                        {"Name": "VpnId", "Value": connection["vpn_connection_id"]},
                        {"Name": "TunnelIpAddress", "Value": ip},
                    ],
                },
                "Period": 60,
                "Stat": "Maximum",
            },
        }
        for i, ip in enumerate(connection["outside_ips"])
    ]
    results = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=end - dt.timedelta(minutes=minutes),
        EndTime=end,
        ScanBy="TimestampAscending",
    )["MetricDataResults"]
    return [r["Values"] for r in sorted(results, key=lambda r: r["Id"])]


def test_tunnel_state_history_is_the_seed(info, truth):
    end = dt.datetime.fromisoformat(truth["answer"]["now"].replace("Z", "+00:00")) + dt.timedelta(seconds=30)
    for account in ACCOUNTS:
        for region in REGIONS:
            for name in ("branch-up", "branch-down", "branch-flap"):
                spec, answer = seeded(truth, account, region, name)
                assert tunnel_state(info, account, region, answer, end) == [
                    [float(v) for v in t["history"]] for t in spec["tunnels"]
                ], (account, region, name)


def test_last_status_change_is_the_history_s_last_transition(info, truth):
    spec, answer = seeded(truth, ACCOUNTS[0], REGIONS[0], "branch-flap")
    ec2 = reader(info, ACCOUNTS[0], "ec2", REGIONS[0])
    telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[answer["vpn_connection_id"]])["VpnConnections"][0][
        "VgwTelemetry"
    ][0]
    now = dt.datetime.fromisoformat(truth["answer"]["now"].replace("Z", "+00:00"))
    last = max(i for i in range(1, len(FLAPPING)) if FLAPPING[i] != FLAPPING[i - 1])
    assert telemetry["LastStatusChange"] == now - dt.timedelta(minutes=len(FLAPPING) - 1 - last)


@pytest.mark.parametrize("account", ACCOUNTS)
def test_tgw_route_is_there_iff_propagated_and_a_tunnel_is_up_with_routes(info, truth, account):
    for region in REGIONS:
        ec2 = reader(info, account, "ec2", region)
        attachments = ec2.describe_transit_gateway_attachments(Filters=[{"Name": "resource-type", "Values": ["vpn"]}])[
            "TransitGatewayAttachments"
        ]
        assert len({a["TransitGatewayId"] for a in attachments}) == 1  # one TGW per account and Region
        table = ec2.describe_transit_gateways()["TransitGateways"][0]["Options"]["PropagationDefaultRouteTableId"]
        routes = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": ["propagated"]}]
        )["Routes"]
        shown = {r["DestinationCidrBlock"]: r["TransitGatewayAttachments"][0]["ResourceId"] for r in routes}
        for name in ("branch-up", "branch-down", "branch-flap"):
            spec, answer = seeded(truth, account, region, name)
            expected = (
                spec["gateway"] == "tgw"
                and spec.get("propagate", True)
                and any(t["status"] == "UP" and t["accepted_routes"] > 0 for t in spec["tunnels"])
            )
            prefix = spec["onprem_prefixes"][0]
            assert (shown.get(prefix) == answer["vpn_connection_id"]) is expected, (region, name, shown)


def test_resolver_and_client_vpn_endpoints_have_the_seeded_status(info, truth):
    resolver = reader(info, ACCOUNTS[0], "route53resolver", "eu-west-1")
    endpoints = resolver.list_resolver_endpoints()["ResolverEndpoints"]
    assert [(e["Name"], e["Direction"], e["Status"]) for e in endpoints] == [("inbound", "INBOUND", "ACTION_NEEDED")]
    ec2 = reader(info, ACCOUNTS[1], "ec2", "us-east-1")
    cvpn = ec2.describe_client_vpn_endpoints()["ClientVpnEndpoints"]
    assert [(e["Status"]["Code"], {t["Key"]: t["Value"] for t in e["Tags"]}["Name"]) for e in cvpn] == [
        ("pending-associate", "remote-users")
    ]


def test_a_denied_account_answers_access_denied(info, truth):
    ec2 = reader(info, DENIED, "ec2", "eu-west-1")
    with pytest.raises(ClientError) as denied:
        ec2.describe_vpn_connections()
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"
    cloudwatch = reader(info, DENIED, "cloudwatch", "eu-west-1")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ClientError) as denied:
        cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "a",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/VPN", "MetricName": "TunnelState"},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now,
        )
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    # The allowed accounts' readers may not write.
    with pytest.raises(ClientError) as denied:
        reader(info, ACCOUNTS[0], "ec2", "eu-west-1").create_customer_gateway(
            Type="ipsec.1", BgpAsn=65000, IpAddress="192.0.2.250"
        )
    assert denied.value.response["Error"]["Code"] == "UnauthorizedOperation"


def test_a_disabled_region_answers_auth_failure(info, truth):
    account = ACCOUNTS[1]
    assert fleet.disable_regions(account, ["ap-southeast-3"])["disabled"] == ["ap-southeast-3"]
    try:
        with pytest.raises(ClientError) as refused:
            reader(info, account, "ec2", "ap-southeast-3").describe_vpn_connections()
        assert refused.value.response["Error"]["Code"] == "AuthFailure"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
        assert refused.value.response["Error"]["Message"] == (
            "AWS was not able to validate the provided access credentials"
        )
        with pytest.raises(ClientError) as refused:
            reader(info, account, "route53resolver", "ap-southeast-3").list_resolver_endpoints()
        assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
        # Its other Regions, and the other accounts in that Region, are served.
        reader(info, account, "ec2", "eu-west-1").describe_vpn_connections()
        reader(info, ACCOUNTS[0], "ec2", "ap-southeast-3").describe_vpn_connections()
    finally:
        fleet.disable_regions(account, [])
    reader(info, account, "ec2", "ap-southeast-3").describe_vpn_connections()


def test_throttled_calls_are_retried_by_adaptive_retries(info, truth):
    account, region = ACCOUNTS[0], "eu-west-1"
    fleet.throttle("DescribeVpnConnections", 2, account=account, region=region)
    ec2 = reader(info, account, "ec2", region, config=Config(retries={"mode": "adaptive", "max_attempts": 5}))
    assert len(ec2.describe_vpn_connections()["VpnConnections"]) == 3
    state = fleet.throttles()
    assert (state["left"], state["served"]) == (0, 2)

    # botocore's max_attempts counts retries (total_max_attempts = max_attempts + 1): 1 retry, 2 throttles.
    fleet.throttle("DescribeVpnConnections", 2, account=account)
    with pytest.raises(ClientError) as throttled:
        reader(
            info, account, "ec2", region, config=Config(retries={"mode": "adaptive", "max_attempts": 1})
        ).describe_vpn_connections()
    assert throttled.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert throttled.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert fleet.throttles()["served"] == 4

    # Another account, or another action, is not throttled.
    fleet.throttle("DescribeVpnConnections", 1, account=ACCOUNTS[1])
    reader(info, account, "ec2", region).describe_vpn_connections()
    assert fleet.throttles()["left"] == 1
    fleet.throttle("DescribeVpnConnections", 0, account=ACCOUNTS[1])

    # CloudWatch (smithy-rpc-v2-cbor, query-compatible) answers Throttling, JSON services ThrottlingException.
    fleet.throttle("GetMetricData", 1)
    fleet.throttle("ListResolverEndpoints", 1)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ClientError) as throttled:
        reader(info, account, "cloudwatch", region).get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "a",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/VPN", "MetricName": "TunnelState"},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now,
        )
    assert throttled.value.response["Error"]["Code"] == "Throttling"
    with pytest.raises(ClientError) as throttled:
        reader(info, account, "route53resolver", region).list_resolver_endpoints()
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert fleet.throttles()["left"] == 0


def test_data_plane_reports_do_not_touch_seeded_tunnels(info):
    region = "ap-northeast-2"
    answer = fleet.seed({"reader_role": ROLE, "connections": connections(accounts=["123456789012"], regions=[region])})[
        "connections"
    ]
    up = next(c for c in answer if c["name"] == "branch-up")
    emulator.admin_call(
        info,
        "POST",
        "data-plane",
        {
            "reporter": "someone",
            "region": region,
            "lease_s": 0.2,
            "tunnels": [{"outside_ip": ip, "status": "DOWN"} for ip in up["outside_ips"]],
        },
    )
    emulator.admin_call(info, "POST", "data-plane", {"reporter": "someone", "region": region, "final": True})
    ec2 = emulator.client("ec2", region, info, config=ONE_TRY)
    telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[up["vpn_connection_id"]])["VpnConnections"][0][
        "VgwTelemetry"
    ]
    assert [t["Status"] for t in telemetry] == ["UP", "UP"]


def test_seeding_again_updates_the_same_connections(info, truth):
    account, region = ACCOUNTS[1], REGIONS[1]
    flipped = [1 - v for v in FLAPPING]
    specs = [c for c in connections(accounts=[account], regions=[region], flap=flipped) if c["name"] == "branch-flap"]
    specs[0]["propagate"] = True
    specs[0]["tags"] = {"team": "edge"}
    first = seeded(truth, account, region, "branch-flap")[1]
    again = fleet.seed({"reader_role": ROLE, "connections": specs})
    assert again["connections"][0]["vpn_connection_id"] == first["vpn_connection_id"]
    assert again["connections"][0]["outside_ips"] == first["outside_ips"]
    ec2 = reader(info, account, "ec2", region)
    connections_now = ec2.describe_vpn_connections()["VpnConnections"]
    assert len(connections_now) == 3
    connection = next(c for c in connections_now if c["VpnConnectionId"] == first["vpn_connection_id"])
    assert {t["Key"]: t["Value"] for t in connection["Tags"]} == {"team": "edge", "Name": "branch-flap"}
    assert connection["VgwTelemetry"][0]["Status"] == ("UP" if flipped[-1] else "DOWN")
    end = dt.datetime.fromisoformat(again["now"].replace("Z", "+00:00")) + dt.timedelta(seconds=30)
    assert tunnel_state(info, account, region, first, end, minutes=len(FLAPPING))[0] == [float(v) for v in flipped]
    # Now propagated, and UP with a route: the TGW shows it.
    table = ec2.describe_transit_gateways()["TransitGateways"][0]["Options"]["PropagationDefaultRouteTableId"]
    routes = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": ["propagated"]}]
    )["Routes"]
    assert (specs[0]["onprem_prefixes"][0] in {r["DestinationCidrBlock"] for r in routes}) is bool(flipped[-1])


def test_the_metric_index_answers_as_moto_does():
    """In this process, on a CloudWatch backend of its own (moto's classes are not patched here)."""
    import random

    from hybridnet.emulator.fleet import metrics
    from moto.cloudwatch.models import CloudWatchBackend, MetricDatum
    from moto.core.utils import utcnow

    backend = CloudWatchBackend("eu-west-1", "111111111111")
    moto_get_metric_data = CloudWatchBackend.get_metric_data
    indexed = metrics.IndexedMetricDataBackend.get_metric_data
    metrics._moto_get_metric_data = metrics._moto_get_metric_data or moto_get_metric_data
    rng = random.Random(7)
    now = utcnow().replace(microsecond=0)
    for vpn in range(20):
        for tunnel in range(2):
            dims = [
                {"Name": "VpnId", "Value": f"vpn-{vpn}"},
                {"Name": "TunnelIpAddress", "Value": f"198.18.0.{tunnel}"},
            ]
            for minute in range(30):
                stamp = now - dt.timedelta(minutes=minute, seconds=rng.randrange(60))
                backend.metric_data.append(
                    MetricDatum("AWS/VPN", "TunnelState", float(rng.choice([0, 1])), dims, stamp, "None")
                )
                backend.metric_data.append(
                    MetricDatum("AWS/VPN", "TunnelDataIn", float(rng.randrange(1000)), dims, stamp, "Bytes")
                )
    backend.metric_data.append(MetricDatum("Custom", "TunnelState", 5.0, [], now, None))
    queries = []
    for n, (stat, period) in enumerate(
        [(s, p) for s in ("Minimum", "Maximum", "Average", "Sum", "SampleCount") for p in (60, 300, 3600)]
    ):
        vpn = n % 20
        dims = [{"Name": "TunnelIpAddress", "Value": f"198.18.0.{n % 2}"}, {"Name": "VpnId", "Value": f"vpn-{vpn}"}]
        queries.append(
            {
                "Id": f"q{n}",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/VPN", "MetricName": "TunnelState", "Dimensions": dims},
                    "Period": period,
                    "Stat": stat,
                },
            }
        )
    queries.append(
        {
            "Id": "nodims",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/VPN", "MetricName": "TunnelState"},
                "Period": 300,
                "Stat": "Average",
            },
        }
    )
    queries.append(
        {
            "Id": "unit",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/VPN",
                    "MetricName": "TunnelDataIn",
                    "Dimensions": [
                        {"Name": "VpnId", "Value": "vpn-3"},
                        {"Name": "TunnelIpAddress", "Value": "198.18.0.1"},
                    ],
                },
                "Period": 600,
                "Stat": "Sum",
                "Unit": "Bytes",
            },
        }
    )
    queries.append(
        {
            "Id": "hidden",
            "ReturnData": False,
            "MetricStat": {
                "Metric": {"Namespace": "Custom", "MetricName": "TunnelState"},
                "Period": 60,
                "Stat": "Maximum",
            },
        }
    )
    for start, end, scan in (
        (now - dt.timedelta(minutes=45), now + dt.timedelta(minutes=1), "TimestampAscending"),
        (now - dt.timedelta(minutes=10, seconds=17), now, "TimestampDescending"),
    ):
        expected = moto_get_metric_data(backend, queries, start, end, scan)
        assert indexed(backend, queries, start, end, scan) == expected
        assert sum(len(r["values"]) for r in expected) > 50
    appended = MetricDatum("AWS/VPN", "TunnelState", 1.0, queries[0]["MetricStat"]["Metric"]["Dimensions"], now, "None")
    backend.metric_data.append(appended)  # after the index was built
    assert indexed(
        backend, queries, now - dt.timedelta(hours=1), now + dt.timedelta(minutes=1)
    ) == moto_get_metric_data(backend, queries, now - dt.timedelta(hours=1), now + dt.timedelta(minutes=1))
