"""Where the tunnels really run: the local lab, or nowhere we control.

With the embedded emulator and root, the lab plays the customer gateway (and
the AWS side, configured from the emulator's state). Against a real account
the engineer copies the generated router setup to the real router; without
root the emulator runs alone and its tunnels stay DOWN. The session factory
picks one (AwsContext.data_plane); phases ask it instead of the target.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from .lab.identity import LAB_DIR, NAME, NAMESPACE_PREFIX
from .waiting import poll

LAB = "lab"
LAB_PROGRAMS = (
    "ip",
    "swanctl",
    "vtysh",
    "/usr/lib/ipsec/charon",
    "/usr/lib/frr/zebra",
    "/usr/lib/frr/bgpd",
    "/usr/sbin/openvpn",
    "/usr/sbin/nft",
)  # the last two: the Client VPN endpoint (phase 4)


def lab_unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "not root (the lab needs network namespaces)"
    missing = [p for p in LAB_PROGRAMS if not (os.path.exists(p) if p.startswith("/") else shutil.which(p))]
    if missing:
        return f"lab programs missing: {', '.join(missing)} (run scripts/setup.sh as root)"
    return None


def choose(target: str, lab_mode: str) -> tuple[str | None, str]:
    """(data plane, why) for a target and the params' `lab` setting (auto|on|off)."""
    if target != "emulator":
        return None, "a real account: the router you configure is the data plane"
    if lab_mode == "off":
        return None, "lab: off in the params"
    reason = lab_unavailable_reason()
    if reason is None:
        return LAB, "the local lab (root, daemons installed)"
    if lab_mode == "on":
        raise RuntimeError(f"lab: on in the params, but the lab cannot run: {reason}")
    return None, f"no lab running: {reason}"


def lab_spec(ctx, vpn: dict):
    """The lab's AWS side, from what the API says (not from the generated router files)."""
    from .lab.fromaws import spec_from_aws

    ec2 = ctx.client("ec2")
    cgw = ec2.describe_customer_gateways(CustomerGatewayIds=[vpn["CustomerGatewayId"]])["CustomerGateways"][0]
    tgw = ec2.describe_transit_gateways(TransitGatewayIds=[vpn["TransitGatewayId"]])["TransitGateways"][0]
    attachments = ec2.describe_transit_gateway_attachments(
        Filters=[
            {"Name": "transit-gateway-id", "Values": [vpn["TransitGatewayId"]]},
            {"Name": "resource-type", "Values": ["vpc"]},
        ]
    )["TransitGatewayAttachments"]
    vpc_ids = sorted({a["ResourceId"] for a in attachments if a["State"] != "deleted"})
    vpc_cidrs = [v["CidrBlock"] for v in ec2.describe_vpcs(VpcIds=vpc_ids)["Vpcs"]] if vpc_ids else []
    return spec_from_aws(
        vpn, cgw, tgw["Options"]["AmazonSideAsn"], vpc_cidrs or [ctx.params.vpc.cidr], [ctx.params.onprem.cidr]
    )


def lab_up(ctx, vpn: dict, cgw_dir: Path, log_dir: Path, timeout: float = 20.0) -> dict:
    """Start the lab with the generated CGW files, register it with the emulator
    and wait until AWS's own API reports both tunnels UP. Returns timings."""
    from . import emulator, lab

    started = time.monotonic()
    spec = lab_spec(ctx, vpn)
    lab.up(spec, cgw_dir, LAB_DIR, log_dir=log_dir)
    timings: dict[str, float | str] = {"daemons_s": time.monotonic() - started}
    try:
        lab.wait_until_up(LAB_DIR, timeout=timeout, require_prefixes=True)
    except TimeoutError as exc:
        timings["error"] = str(exc)  # reported below as DOWN tunnels, with the lab's logs
    timings["tunnels_and_bgp_s"] = time.monotonic() - started
    record_owner(ctx)
    info = emulator.start()
    start_telemetry(ctx, info)
    register_hosts(ctx, info)
    start_host_endpoints(info)  # the hosts are Online for SSM once their AWS API answers
    ec2 = ctx.client("ec2")

    def aws_sees_it_up() -> bool:
        telemetry = ec2.describe_vpn_connections(VpnConnectionIds=[vpn["VpnConnectionId"]])["VpnConnections"][0][
            "VgwTelemetry"
        ]
        return all(t["Status"] == "UP" and t["AcceptedRouteCount"] > 0 for t in telemetry)

    if "error" not in timings:
        poll(aws_sees_it_up, timeout=5, interval=0.2)
    timings["telemetry_s"] = time.monotonic() - started
    return timings


TELEMETRY = "telemetry"


def start_telemetry(ctx, info) -> None:
    """The lab's AWS side reports its tunnels to the emulator every second
    (hybridnet.lab.telemetry, a lab daemon in the AWS namespace, stopped by `lab
    down`); returns once the emulator has its first report."""
    import sys

    from . import emulator, lab
    from .lab.topology import AWS_NS

    runtime = lab.LabRuntime.load(LAB_DIR)
    name = f"{TELEMETRY}@{AWS_NS}"
    runtime.stop([name])  # a lab brought up again by the same process: one reporter

    def reporting() -> bool:
        feeds = emulator.admin_call(info, "GET", "data-plane")["feeds"]
        return any(f["reporter"] == str(LAB_DIR) for f in feeds)

    lab.start_daemon(
        runtime,
        name,
        AWS_NS,
        [
            sys.executable,
            "-m",
            "hybridnet.lab.telemetry",
            "--lab-dir",
            str(LAB_DIR),
            "--emulator-socket",
            info.socket,
            "--region",
            ctx.params.region,
        ],
        executable=Path(sys.executable).name,
        ready=reporting,
        ready_timeout=10.0,
    )


def twin_services_up(ctx, run_dir: Path) -> list[str]:
    """After the site-to-site part: the lab's DNS servers and Client VPN endpoint,
    which the agent starts when the account has what they play (this stack's
    Resolver endpoints, its Client VPN endpoint), configured from the API. Waits
    for them; one line per part: what came up, or why it did not."""
    from .phases import client_vpn

    lines = []
    if not ctx.params.dns:
        lines.append("DNS             not played: no dns section in the params")
    else:
        try:
            has_endpoint = bool(dns_spec(ctx)["inbound_ips"])
        except RuntimeError:
            has_endpoint = False
        if not has_endpoint:
            lines.append("DNS             not played: no OPERATIONAL inbound endpoint of this stack (run notebook 03)")
        else:  # the agent starts them when it sees the endpoints
            respawn_crashed([name for name, _ in DNS_DAEMONS.values()])
            running = poll(lambda: not dns_daemons_missing(), timeout=15, interval=0.2)
            lines.append(
                "DNS             "
                + (
                    "named in " + ", ".join(ns for _, ns in DNS_DAEMONS.values())
                    if running
                    else f"named not running: {', '.join(dns_daemons_missing())} (see the agent's log)"
                )
            )
    endpoint = client_vpn.find_endpoint(ctx) if ctx.params.client_vpn else None
    if endpoint is None:
        lines.append("Client VPN      not played: no Client VPN endpoint of this stack (run notebook 04)")
    else:
        from .lab.client_vpn import ENDPOINT_PUBLIC_IP

        endpoint_id = endpoint["ClientVpnEndpointId"]
        if wait_for_client_vpn(ctx, endpoint_id, timeout=15):
            lines.append(f"Client VPN      {endpoint_id} played by OpenVPN on {ENDPOINT_PUBLIC_IP}")
        else:
            error = ((twin_status() or {}).get("client_vpn") or {}).get("error") or "not within 15 s"
            lines.append(f"Client VPN      {endpoint_id} not played: {error} (see the agent's log)")
    return lines


def wait_for_client_vpn(ctx, endpoint_id: str, timeout: float = 15.0) -> bool:
    """Until the lab's agent plays this stack's Client VPN endpoint `endpoint_id` as
    the account describes it now: OpenVPN runs, and the agent's last read of the
    account, which confirmed it, started after this call (so a change made before
    the call is in). False after `timeout` seconds, or as soon as such a read found
    that it cannot be played (the reason: twin_status()["client_vpn"]["error"])."""
    from .lab import client_vpn

    started = time.time()
    owner = {"stack": ctx.params.name, "endpoint": ctx.endpoint_url}

    def verdict() -> str | None:
        agent = twin_status() or {}
        status = agent.get("client_vpn") or {}
        if (
            agent.get("owner") != owner
            or status.get("endpoint_id") != endpoint_id
            or status.get("checked", 0) < started
        ):
            return None
        if status.get("played") and client_vpn.running(LAB_DIR):
            return "played"
        return "failed" if status.get("error") else None

    return poll(verdict, timeout=timeout, interval=0.2) == "played"


def register_hosts(ctx, info=None) -> list[dict]:
    """Make the lab's namespaces the params' hosts (SSM managed instances) in the emulator."""
    import ipaddress

    from . import emulator
    from .lab.client_vpn import INET_USER_SIDE
    from .lab.hosts import REMOTE_NAMESPACES, registrations
    from .lab.topology import IDC_NS, VPC_NS

    roles = {
        role: ({"instance_id": host.instance_id} if host.instance_id else {"name_tag": host.name_tag})
        for role, host in ctx.params.hosts.roles().items()
    }
    if not roles:
        return []
    # The IDC's hosts ask its DNS server, the VPC host the VPC resolver, the remote
    # users the lab's public DNS (where the endpoint's name resolves).
    resolvers = {
        IDC_NS: ctx.params.onprem.dns_server,
        VPC_NS: str(ipaddress.ip_network(ctx.params.vpc.cidr).network_address + 2),
        **{ns: INET_USER_SIDE for ns in REMOTE_NAMESPACES},
    }
    answer = emulator.admin_call(
        info or emulator.start(),
        "POST",
        "ssm-instances",
        {"region": ctx.params.region, "instances": registrations(LAB_DIR, roles, resolvers)},
    )
    return answer["instances"]


def emulator_info():
    from . import emulator

    return emulator.start()  # the running one (started if it is not)


ENDPOINT = "endpoint"


def start_host_endpoints(info, namespaces: tuple[str, ...] | None = None) -> list[str]:
    """In each host namespace (default: the site-to-site part's), the AWS API at
    127.0.0.1:4510 (hybridnet.lab.endpoint), piped to the emulator's instance
    socket; none when the emulator has no such socket."""
    import sys

    from . import lab
    from .lab.endpoint import PORT
    from .lab.hosts import HOST_NAMESPACES, online_flag

    socket_path = getattr(info, "instance_socket", None)
    if not socket_path:
        return []
    runtime = lab.LabRuntime.load(LAB_DIR)
    records = {}
    for ns in namespaces or HOST_NAMESPACES:  # all started, then all awaited: each takes a Python start-up
        name = f"{ENDPOINT}@{ns}"
        runtime.stop([name])
        records[ns] = lab.start_daemon(
            runtime,
            name,
            ns,
            [sys.executable, "-m", "hybridnet.lab.endpoint", "--port", str(PORT), "--socket", socket_path],
            executable=Path(sys.executable).name,
        )
    for ns, record in records.items():
        runtime.wait_ready(record, functools.partial(_listening, ns, PORT), timeout=10.0)
        runtime.ns_dir(ns)  # the namespace's lab folder: the flag goes with it
        online_flag(LAB_DIR, ns).touch()  # SSM shows the host Online from now on
    return [record.name for record in records.values()]


def client_vpn_up(ctx, endpoint_id: str, info=None):
    """The lab plays the Client VPN endpoint as the API describes it, and its remote
    users' hosts get the AWS API: what the lab's agent does when it sees the
    endpoint (for tests and benches that drive the lab without the agent)."""
    from .lab import client_vpn, fromaws
    from .lab.hosts import REMOTE_NAMESPACES

    info = info or emulator_info()
    state = client_vpn.up(LAB_DIR, fromaws.client_vpn_spec_from_aws(ctx, endpoint_id, info.socket))
    start_host_endpoints(info, REMOTE_NAMESPACES)
    return state


def _listening(ns: str, port: int) -> bool:
    from .lab import netns

    shown = netns.run(["ip", "netns", "exec", ns, "ss", "-Hltn", f"sport = :{port}"], check=False).stdout
    return bool(shown.strip())


def lab_status_frame() -> pd.DataFrame:
    """Per tunnel: IPsec on both ends, BGP on both ends, prefixes learned."""
    from . import lab

    status = lab.status(LAB_DIR)
    rows = []
    for number, tunnel in enumerate(status.get("tunnels", []), start=1):
        aws_peer = status["bgp"].get("aws", {}).get(tunnel["cgw_inside_ip"], {})
        cgw_peer = status["bgp"].get("cgw", {}).get(tunnel["vgw_inside_ip"], {})
        rows.append(
            {
                "tunnel": number,
                "aws_outside_ip": tunnel["vgw_outside_ip"],
                "ipsec_aws_side": tunnel["status"],
                "ipsec_cgw_side": tunnel["cgw"]["status"],
                "bgp_aws_side": aws_peer.get("state", "-"),
                "bgp_cgw_side": cgw_peer.get("state", "-"),
                "prefixes_aws_learned": aws_peer.get("prefixes_received", 0),
                "prefixes_cgw_learned": cgw_peer.get("prefixes_received", 0),
            }
        )
    return pd.DataFrame(rows)


def lab_routes_frame() -> pd.DataFrame:
    """Per side of the tunnels: the BGP routes and the routes charon installed (table 220)."""
    from . import lab

    status = lab.status(LAB_DIR)
    rows = [
        {"side": side, **{k: r[k] for k in ("prefix", "protocol", "next_hop", "table")}}
        for side, routes in status.get("routes", {}).items()
        for r in routes
        if r["protocol"] in ("bgp", "ipsec")
    ]
    return pd.DataFrame(rows, columns=["side", "prefix", "protocol", "next_hop", "table"])


def lab_running() -> bool:
    return lab_unavailable_reason() is None and (LAB_DIR / "state.json").exists()


def record_owner(ctx) -> None:
    """Note in the lab's state which stack (of which emulator) it plays, so that
    tearing down another stack leaves it alone."""
    from . import lab

    runtime = lab.LabRuntime.load(LAB_DIR)
    runtime.state["owner"] = {"stack": ctx.params.name, "endpoint": ctx.endpoint_url}
    runtime.save()


def lab_owner() -> dict | None:
    """{stack, endpoint} of the stack the running lab plays, or None (no lab, or
    one brought up without a stack)."""
    from . import lab

    if not lab_running():
        return None
    return lab.LabRuntime.load(LAB_DIR).state.get("owner")


def lab_down() -> dict:
    """Stop the lab's agent, then every lab daemon; delete the namespaces."""
    from . import lab

    agent = twin_stop()
    report = lab.down(LAB_DIR)
    if agent:
        report["stopped"].insert(0, agent)
    return report


# --- the lab's agent (hybridnet.lab.twin) -----------------------------------------------------


def twin_status() -> dict | None:
    """{pid, starttime, params, owner, log, log_dir} of the running agent, or None; with
    what the agent reports of what it plays: client_vpn = {endpoint_id (the stack's
    endpoint, or None), played (its OpenVPN runs), public_ip, checked (time.time() at
    the start of the read that found this), error (why it is not played, or None)}."""
    from .lab.daemons import is_same_process_alive
    from .lab.twin import PID_FILE, read_status

    try:
        info = json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        return None
    if not is_same_process_alive(info["pid"], info["starttime"]):
        return None
    return {**read_status(), **info}


def twin_start(ctx, params_file: Path, timeout: float = 30.0) -> dict:
    """Start the lab's agent for this stack (or keep the one that plays it);
    returns its status. It plays AWS's side from then on, as the account changes."""
    import subprocess
    import sys

    from .lab.daemons import proc_stat
    from .lab.twin import PID_FILE, STATUS_FILE
    from .workspace import outputs_dir

    owner = {"stack": ctx.params.name, "endpoint": ctx.endpoint_url}
    running = twin_status()
    if running and running["owner"] == owner and running["params"] == str(Path(params_file).resolve()):
        return running
    if running:
        twin_stop()
    STATUS_FILE.unlink(missing_ok=True)  # a killed agent's: the new one writes its own
    log_dir = outputs_dir() / "lab-logs"  # the daemons' logs and the DNS configs the agent ran
    log_dir.mkdir(parents=True, exist_ok=True)
    LOG_FILE = log_dir / f"twin{'-' + NAME if NAME else ''}.log"
    offset = LOG_FILE.stat().st_size if LOG_FILE.exists() else 0
    with open(LOG_FILE, "ab") as log:
        os.chmod(LOG_FILE, 0o600)
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hybridnet.lab.twin",
                "--params",
                str(Path(params_file).resolve()),
                "--log-dir",
                str(log_dir),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    stat = proc_stat(child.pid)
    info = {
        "pid": child.pid,
        "starttime": stat[1] if stat else -1,
        "owner": owner,
        "params": str(Path(params_file).resolve()),
        "log": str(LOG_FILE),
        "log_dir": str(log_dir),
    }
    PID_FILE.write_text(json.dumps(info))
    PID_FILE.chmod(0o600)
    if (
        not poll(
            lambda: b"playing stack" in LOG_FILE.read_bytes()[offset:] or child.poll() is not None,
            timeout=timeout,
            interval=0.1,
        )
        or child.poll() is not None
    ):
        raise RuntimeError(f"the lab's agent did not start; its log {LOG_FILE}:\n{LOG_FILE.read_text()[-2000:]}")
    return info


def twin_stop() -> str | None:
    """Stop the lab's agent (by pid and start time); its name, or None if none ran."""
    from .lab.daemons import stop_processes
    from .lab.twin import PID_FILE, STATUS_FILE

    info = twin_status()
    PID_FILE.unlink(missing_ok=True)
    if info is not None:
        stop_processes([(info["pid"], info["starttime"])])
    STATUS_FILE.unlink(missing_ok=True)  # the agent removes it when it stops, unless it was killed
    return None if info is None else f"twin (pid {info['pid']})"


def wait_for_twin(ctx, timeout: float = 30.0) -> bool:
    """Until the agent plays this stack's VPN connection: the lab's network and
    AWS's side up, the hosts registered with SSM."""
    from . import lab

    def playing() -> bool:
        if not lab_running():
            return False
        state = lab.LabRuntime.load(LAB_DIR).state
        return (
            state.get("owner") == {"stack": ctx.params.name, "endpoint": ctx.endpoint_url}
            and state.get("twin", {}).get("hosts") == "registered"
        )

    return poll(playing, timeout=timeout, interval=0.2)


def lab_down_for(ctx) -> tuple[dict | None, str]:
    """Stop the lab (its agent, daemons and namespaces) only if it plays this
    stack: (lab.down's report or None, what happened in words). A lab that plays
    another stack or another emulator, or any lab when this stack's params say
    it uses none, keeps running. The words do not depend on how far the agent
    had already taken the network down (it does when the VPN connection goes)."""
    agent = twin_status()
    if not lab_running() and agent is None:
        return None, "not running"
    if ctx.data_plane != LAB:
        return None, f"left running: this stack uses no lab ({ctx.data_plane_reason})"
    owner = lab_owner() if lab_running() or agent is None else agent["owner"]
    if owner != {"stack": ctx.params.name, "endpoint": ctx.endpoint_url}:
        plays = f"stack {owner['stack']!r} at {owner['endpoint']}" if owner else "no recorded stack"
        return None, f"left running: it plays {plays}, not this stack (stop it: hybridnet lab down)"
    report = lab_down()
    return report, "down: its agent, daemons and namespaces are gone"


# --- hybrid DNS (phase 3): two named servers in the lab -------------------------------------------

DNS_DAEMONS = {
    "onprem": (f"named@{NAMESPACE_PREFIX}idc", f"{NAMESPACE_PREFIX}idc"),
    "resolver": (f"named@{NAMESPACE_PREFIX}vpc", f"{NAMESPACE_PREFIX}vpc"),
}
NAMED = "/usr/sbin/named"


def dns_spec(ctx) -> dict:
    """What the lab's two named servers play, from the AWS API only (boto3):
    the VPC, its Resolver endpoints (the stack's, by tag), the FORWARD rules
    associated with it, the private hosted zones associated with it and their
    record sets, and who the inbound endpoint's security group admits."""
    import ipaddress

    from .aws import STACK_TAG, paginate, tag_value  # here: aws.py imports this module

    p = ctx.params
    ec2, r53, resolver = ctx.client("ec2"), ctx.client("route53"), ctx.client("route53resolver")
    from .phases import PhaseError, find_vpc

    try:
        vpc = find_vpc(ctx)
    except PhaseError as exc:
        raise RuntimeError(f"nothing for the lab's resolver to play: {exc}") from None
    endpoints: dict[str, list[str]] = {"INBOUND": [], "OUTBOUND": []}
    endpoint_ips: dict[str, list[str]] = {}
    groups: set[str] = set()
    for endpoint in paginate(
        resolver,
        "list_resolver_endpoints",
        "ResolverEndpoints",
        Filters=[{"Name": "HostVPCId", "Values": [vpc["VpcId"]]}],
    ):
        if endpoint["Status"] != "OPERATIONAL":
            continue
        ips = [
            a["Ip"]
            for a in paginate(
                resolver, "list_resolver_endpoint_ip_addresses", "IpAddresses", ResolverEndpointId=endpoint["Id"]
            )
        ]
        endpoint_ips[endpoint["Id"]] = ips
        tags = {"Tags": paginate(resolver, "list_tags_for_resource", "Tags", ResourceArn=endpoint["Arn"])}
        if tag_value(tags, STACK_TAG) == p.name:
            endpoints[endpoint["Direction"]] += ips
            if endpoint["Direction"] == "INBOUND":
                groups.update(endpoint.get("SecurityGroupIds", []))
    admitted: list[str] = []
    if groups:
        for group in ec2.describe_security_groups(GroupIds=sorted(groups))["SecurityGroups"]:
            for perm in group.get("IpPermissions", []):
                if perm.get("IpProtocol") in ("udp", "-1") and perm.get("FromPort", 0) <= 53 <= perm.get(
                    "ToPort", 65535
                ):
                    admitted += [r["CidrIp"] for r in perm.get("IpRanges", []) if r["CidrIp"] not in admitted]
    rules: dict[str, list[dict]] = {}
    query_source = None
    for association in paginate(
        resolver,
        "list_resolver_rule_associations",
        "ResolverRuleAssociations",
        Filters=[{"Name": "VPCId", "Values": [vpc["VpcId"]]}],
    ):
        if association["Status"] != "COMPLETE":
            continue
        rule = resolver.get_resolver_rule(ResolverRuleId=association["ResolverRuleId"])["ResolverRule"]
        if rule["RuleType"] != "FORWARD" or rule["Status"] != "COMPLETE":
            continue
        rules[rule["DomainName"].rstrip(".")] = [
            {"Ip": t["Ip"], "Port": t.get("Port", 53)} for t in rule.get("TargetIps", [])
        ]
        if query_source is None and endpoint_ips.get(rule.get("ResolverEndpointId", "")):
            query_source = endpoint_ips[rule["ResolverEndpointId"]][0]
    zones: dict[str, list[dict]] = {}
    listed = r53.list_hosted_zones_by_vpc(VPCId=vpc["VpcId"], VPCRegion=p.region)["HostedZoneSummaries"]
    for zone in listed:
        zones[zone["Name"].rstrip(".")] = paginate(
            r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["HostedZoneId"]
        )
    return {
        "vpc_id": vpc["VpcId"],
        "vpc_cidr": vpc["CidrBlock"],
        "vpc_resolver_ip": str(ipaddress.ip_network(vpc["CidrBlock"]).network_address + 2),
        "inbound_ips": endpoints["INBOUND"],
        "outbound_ips": endpoints["OUTBOUND"],
        "admitted_cidrs": admitted,
        "forward_rules": rules,
        "query_source_ip": query_source or (endpoints["OUTBOUND"][0] if endpoints["OUTBOUND"] else None),
        "hosted_zones": zones,
    }


def named_ready(log: Path, offset: int) -> bool:
    """named (-g) logged "running" after `offset`: it has loaded its zones and answers."""
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            return any(line.rstrip().endswith(b" running") for line in handle.read().splitlines())
    except OSError:
        return False


def _ensure_vpc_addresses(ips: list[str]) -> list[str]:
    """The endpoint and resolver IPs on hn-vpc's interface (the topology has the
    seed's; other params' IPs are added, with the VPC router's .1 on hn-aws)."""
    import ipaddress

    from .lab import netns
    from .lab.topology import AWS_NS, VPC_NS, VPC_SUBNET_PREFIXLEN

    have_vpc = netns.ip_in(VPC_NS, "-o", "-4", "addr", "show", "dev", "vpc").stdout
    have_aws = netns.ip_in(AWS_NS, "-o", "-4", "addr", "show", "dev", "vpc").stdout
    added = []
    for ip in ips:
        iface = ipaddress.ip_interface(f"{ip}/{VPC_SUBNET_PREFIXLEN}")
        if f" {ip}/" not in have_vpc:
            netns.ip_batch_in(VPC_NS, netns.address_commands("vpc", [str(iface)]))
            added.append(ip)
        router = f"{iface.network.network_address + 1}/{iface.network.prefixlen}"
        if f" {router} " not in have_aws and f" {router.split('/')[0]}/" not in have_aws:
            netns.ip_batch_in(AWS_NS, netns.address_commands("vpc", [router]))
            have_aws += f" {router} "
    return added


def dns_up(
    ctx,
    record_dir: Path,
    log_dir: Path | None = None,
    timeout: float = 10.0,
    roles: tuple[str, ...] = tuple(DNS_DAEMONS),
) -> tuple[pd.DataFrame, dict]:
    """Start (replacing any previous) the lab's two named servers, configured from
    the emulator's state:

    * hn-idc: the on-prem DNS server (onprem.dns_server), primary for
      onprem.domain, forwarding the private hosted zones and
      <region>.compute.internal to the inbound endpoint IPs;
    * hn-vpc: Route 53 Resolver, primary for the private hosted zones (their
      record sets), listening on the inbound endpoint IPs and the VPC resolver
      IP (VPC CIDR base + 2), forwarding per FORWARD rule with queries sent from
      an outbound endpoint IP.

    Queries between them cross the lab's IPsec tunnels. Both blackhole every
    address outside the lab. Each runs from its own folder under the lab dir
    (writable by user bind); a copy of what ran goes to `record_dir`. They are
    recorded lab daemons, so `hybridnet lab down` stops them. `roles` says which
    of the two (the on-prem one is the DNS server's own when its files arrive
    through SSM: onprem_dns.apply). Returns a table (one row per server) and timings."""
    import shutil

    from . import lab
    from .lab.topology import VPC_HOSTS
    from .render.dns import compute_internal_zone, render_lab_bind

    started = time.monotonic()
    p = ctx.params
    compute = compute_internal_zone(p.region)
    spec = dns_spec(ctx)
    if not spec["inbound_ips"]:
        raise RuntimeError("no OPERATIONAL inbound Resolver endpoint of this stack in the VPC: run phase 3 first")
    runtime = lab.LabRuntime.load(LAB_DIR)
    from .lab import resolverlogs  # the Resolver's query log collector starts and stops with its named

    runtime.stop(
        [DNS_DAEMONS[role][0] for role in roles]
        + ([resolverlogs.collector_name(DNS_DAEMONS["resolver"][1])] if "resolver" in roles else [])
    )
    vpc_ips = (
        spec["inbound_ips"] + [spec["vpc_resolver_ip"]] + ([spec["query_source_ip"]] if spec["query_source_ip"] else [])
    )
    _ensure_vpc_addresses(vpc_ips)
    onprem_clients = [p.onprem.cidr] + [f"{ip}/32" for ip in spec["outbound_ips"]]
    configs = {
        "onprem": dict(
            listen_ips=[p.onprem.dns_server],
            allow_query=onprem_clients,
            onprem_zone=p.onprem.domain,
            onprem_records=dict(p.onprem.hosts),
            inbound_ips=spec["inbound_ips"],
            private_zones=sorted(spec["hosted_zones"]) or [p.dns.private_zone],
            region=p.region,
            dns_server_ip=p.onprem.dns_server,
        ),
        "resolver": dict(
            listen_ips=spec["inbound_ips"] + [spec["vpc_resolver_ip"]],
            allow_query=[spec["vpc_cidr"]] + [c for c in spec["admitted_cidrs"] if c != spec["vpc_cidr"]],
            hosted_zones=spec["hosted_zones"],
            forward_rules=spec["forward_rules"],
            query_source_ip=spec["query_source_ip"] if spec["forward_rules"] else None,
            region=p.region,
            vpc_host_ips=[ip for name, ip in VPC_HOSTS if name.startswith("web")],
        ),
    }
    rows = []
    for role, (name, ns) in ((r, DNS_DAEMONS[r]) for r in roles):
        run = LAB_DIR / f"{ns}-named"  # swept by `lab down` with the other hn-* folders
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(mode=0o750)
        shutil.chown(run, "bind", "bind")
        out = Path(record_dir) / role
        shutil.rmtree(out, ignore_errors=True)
        extra = {"dnstap_socket": resolverlogs.start_collector(runtime, ns, run)} if role == "resolver" else {}
        paths = render_lab_bind(role, out, run_dir=run, **configs[role], **extra)
        for path in paths:
            shutil.copy2(path, run / path.name)
        log = runtime.log_dir / f"{name.replace('@', '-')}.log"
        offset = log.stat().st_size if log.exists() else 0
        record = lab.start_daemon(
            runtime,
            name,
            ns,
            [NAMED, "-4", "-g", "-u", "bind", "-c", str(run / "named.conf")],
            ready=functools.partial(named_ready, log, offset),
            ready_timeout=timeout,
            runtime_dirs=[run],
        )
        conf = configs[role]
        if role == "onprem":
            answers = p.onprem.domain
            forwards = f"{', '.join(conf['private_zones'] + [compute])} -> {', '.join(spec['inbound_ips'])}"
        else:
            answers = ", ".join(sorted(spec["hosted_zones"]) + [compute])
            forwards = (
                "; ".join(
                    f"{d} -> {', '.join(t['Ip'] for t in ts)} (from {spec['query_source_ip']})"
                    for d, ts in sorted(spec["forward_rules"].items())
                )
                or "-"
            )
        rows.append(
            {
                "server": "on-prem DNS (IDC)" if role == "onprem" else "Route 53 Resolver (VPC)",
                "namespace": ns,
                "running": runtime.is_running(record),
                "listens on": ", ".join(conf["listen_ips"]),
                "answers": answers,
                "forwards": forwards,
            }
        )
    timings = {"named_s": time.monotonic() - started}
    return pd.DataFrame(rows), timings


def respawn_crashed(names: list[str]) -> list[str]:
    """Those of the lab daemons `names` that are recorded but dead (a crash: the agent
    plays them again only when what they play changes, as a server that crashed
    stays down until someone starts it), started again exactly as they were
    started. Returns their names."""
    from . import lab

    try:
        runtime = lab.LabRuntime.load(LAB_DIR)
    except FileNotFoundError:
        return []
    crashed = [r.name for r in runtime.daemons if r.name in names and not runtime.is_running(r)]
    for name in crashed:
        runtime.respawn(name)
    return crashed


def dns_daemons_missing() -> list[str]:
    """The lab's named servers that are not running (all of them when no lab)."""
    from . import lab

    try:
        runtime = lab.LabRuntime.load(LAB_DIR)
    except FileNotFoundError:
        return [name for name, _ in DNS_DAEMONS.values()]
    running = {r.name for r in runtime.daemons if runtime.is_running(r)}
    return [name for name, _ in DNS_DAEMONS.values() if name not in running]
