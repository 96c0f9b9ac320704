"""TestDNSAnswer: what Route 53's name servers would answer, from a zone's record sets.

AWS computes the answer from the hosted zone's configuration without sending
any DNS query (the console's "DNS checking tool"); so does this backend. The
answer is what ``dig`` shows in its answer section:

- a name with a record set of the asked type: NOERROR and its values;
- a name that exists with other types only (or an empty non-terminal, or a
  name at or under a delegation to another zone): NOERROR with no data;
- a name with a CNAME asked for another type: the CNAME's target, followed
  by the target's values when the target is in the same zone;
- no such name: NXDOMAIN, unless a wildcard (``*.parent``) covers it;
- alias records: the aliased record set's values when it is in this zone,
  otherwise the alias target's DNS name.

Routing policies pick one record set as AWS's name servers would without
health checks: failover PRIMARY, the highest weight, all values of
multivalue answers, otherwise the first record set by SetIdentifier.

AWS documents the call as "only supports querying public hosted zones"; a
private hosted zone is refused here with InvalidInput rather than answered,
so a runbook that relies on it fails in the emulator exactly where it would
fail against AWS. Check private zones with ListResourceRecordSets and with
DNS queries from inside the VPC (the lab's resolver) instead.
"""

from __future__ import annotations

import re
from typing import Any

from moto.route53.exceptions import InvalidInput
from moto.route53.models import Route53Backend

_moto_create_hosted_zone = Route53Backend.create_hosted_zone

# botocore's RRType enum for the route53 2013-04-01 model.
RR_TYPES = frozenset(
    {
        "SOA",
        "A",
        "TXT",
        "NS",
        "CNAME",
        "MX",
        "NAPTR",
        "PTR",
        "SRV",
        "SPF",
        "AAAA",
        "CAA",
        "DS",
        "TLSA",
        "SSHFP",
        "SVCB",
        "HTTPS",
    }
)
DEFAULT_NAMESERVER = "ns-2048.awsdns-64.com"
MAX_CHAIN = 8  # CNAME/alias hops followed inside one zone
_ESCAPE = re.compile(r"\\([0-7]{3})")  # Route 53 writes a backslash + 3 octal digits (\052 is *)


def dns_labels(name: str) -> tuple[str, ...]:
    """``'WWW.Example.com.'`` / ``'\\052.example.com'`` -> ``('www', 'example', 'com')`` / ``('*', ...)``."""
    text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name.strip()).rstrip(".").lower()
    return tuple(text.split(".")) if text else ()


def _values(rrset: Any) -> list[str]:
    out = []
    for item in rrset.records or []:
        out.append(item["Value"] if isinstance(item, dict) else str(item))
    return out


def _pick(rrsets: list[Any]) -> list[Any]:
    """The record set(s) a name server would answer from (routing policies, no health checks)."""
    if len(rrsets) <= 1:
        return rrsets
    primary = [r for r in rrsets if (r.failover or "").upper() == "PRIMARY"]
    if primary:
        return primary[:1]
    if any(r.multi_value_answer for r in rrsets):
        return [r for r in rrsets if r.multi_value_answer]
    weighted = [r for r in rrsets if r.weight is not None]
    if weighted:
        return [max(weighted, key=lambda r: (int(r.weight), str(r.set_identifier or "")))]
    return [sorted(rrsets, key=lambda r: str(r.set_identifier or ""))[0]]


class _ZoneView:
    """A hosted zone's record sets indexed by owner name (label tuples)."""

    def __init__(self, zone: Any):
        self.zone = zone
        self.apex = dns_labels(zone.name)
        self.by_name: dict[tuple[str, ...], list[Any]] = {}
        for rrset in zone.rrsets:
            self.by_name.setdefault(dns_labels(rrset.name), []).append(rrset)

    def contains(self, labels: tuple[str, ...]) -> bool:
        n = len(self.apex)
        return len(labels) >= n and labels[len(labels) - n :] == self.apex

    def exists(self, labels: tuple[str, ...]) -> bool:
        """The name owns record sets or is an empty non-terminal."""
        if labels in self.by_name:
            return True
        n = len(labels)
        return any(len(other) > n and other[len(other) - n :] == labels for other in self.by_name)

    def delegated(self, labels: tuple[str, ...]) -> bool:
        """At or under a zone cut (NS record set below the apex)."""
        for cut in range(len(labels), len(self.apex), -1):
            owner = labels[len(labels) - cut :]
            if any(r.type == "NS" for r in self.by_name.get(owner, [])):
                return True
        return False

    def node(self, labels: tuple[str, ...]) -> list[Any] | None:
        """Record sets answering for `labels` (wildcards applied); None for NXDOMAIN."""
        if self.exists(labels):
            return self.by_name.get(labels, [])
        # closest encloser, then its wildcard (RFC 4592)
        for depth in range(len(labels) - 1, len(self.apex) - 1, -1):
            encloser = labels[len(labels) - depth :]
            if self.exists(encloser):
                return self.by_name.get(("*",) + encloser)
        return None


class DnsAnswerBackend:
    """Mixed into moto's Route53Backend."""

    def test_dns_answer(self, hosted_zone_id: str, record_name: str, record_type: str) -> dict[str, Any]:
        zone = self.get_hosted_zone(hosted_zone_id)  # type: ignore[attr-defined]  # NoSuchHostedZone
        if zone.private_zone:
            raise InvalidInput(
                f"TestDNSAnswer only supports querying public hosted zones; hosted zone "
                f"{zone.resource_id} ({zone.name}) is a private hosted zone"
            )
        rtype = (record_type or "").upper()
        if rtype not in RR_TYPES:
            raise InvalidInput(f"Invalid record type {record_type!r}; valid types: {', '.join(sorted(RR_TYPES))}")
        labels = dns_labels(record_name or "")
        if not labels or any(not label or len(label) > 63 for label in labels):
            raise InvalidInput(f"{record_name!r} is not a valid DNS name")
        view = _ZoneView(zone)
        if not view.contains(labels):
            raise InvalidInput(f"The record name {record_name} is not in hosted zone {zone.name}")
        rcode, data = self._answer(view, labels, rtype)
        servers = getattr(zone.delegation_set, "name_servers", None) or [DEFAULT_NAMESERVER]
        return {
            "Nameserver": servers[0].rstrip("."),
            "RecordName": record_name,
            "RecordType": rtype,
            "RecordData": data,
            "ResponseCode": rcode,
            "Protocol": "UDP",
        }

    def _answer(self, view: _ZoneView, labels: tuple[str, ...], rtype: str) -> tuple[str, list[str]]:
        data: list[str] = []
        for _ in range(MAX_CHAIN):
            if labels != view.apex and view.delegated(labels):
                return "NOERROR", data  # a referral: nothing in the answer section
            rrsets = view.node(labels)
            if rrsets is None:
                return "NXDOMAIN", data  # RFC 6604: the rcode is the last name's in a chain
            same = _pick([r for r in rrsets if r.type == rtype])
            if same:
                target = self._alias_target(view, same[0])
                if target is None:
                    data += [v for r in same for v in _values(r)]
                    return "NOERROR", data
                if not view.contains(target[1]):
                    data.append(target[0])
                    return "NOERROR", data
                labels = target[1]
                continue
            cname = _pick([r for r in rrsets if r.type == "CNAME"])
            if not cname:
                return "NOERROR", data  # the name has other types only
            alias = self._alias_target(view, cname[0])
            target_name = alias[0] if alias else (_values(cname[0]) or [""])[0].rstrip(".")
            data.append(target_name)
            labels = dns_labels(target_name)
            if not view.contains(labels):
                return "NOERROR", data
        return "NOERROR", data

    @staticmethod
    def _alias_target(view: _ZoneView, rrset: Any) -> tuple[str, tuple[str, ...]] | None:
        alias = rrset.alias_target
        if not alias:
            return None
        name = str(alias.get("DNSName", "")).rstrip(".")
        return name, dns_labels(name)


class SoaValueBackend:
    """moto stores a new zone's SOA record as [{"Value": ...}] where every other
    record set holds plain strings, so ListResourceRecordSets returned the SOA
    value as the text of a Python dict ("{'Value': 'ns-2048...'}"). Mixed into
    moto's Route53Backend: the SOA holds its value as a string, as AWS shows it."""

    def create_hosted_zone(self, *args: Any, **kwargs: Any) -> Any:
        zone = _moto_create_hosted_zone(self, *args, **kwargs)  # type: ignore[arg-type]
        for rrset in zone.rrsets:
            rrset.records = _values(rrset)
        return zone


def _zone_order(name: str) -> tuple[str, ...]:
    """Route 53's order of hosted zones by name: labels reversed (com.example.www), case folded."""
    return tuple(reversed(dns_labels(name)))


class HostedZoneListingBackend:
    """ListHostedZonesByName and ListHostedZonesByVPC as pages, as AWS lists them.

    moto's list_hosted_zones_by_name returns the zones named exactly DNSName
    (or all of them) with no page, so its answer lacks IsTruncated and
    MaxItems, which botocore's model requires; AWS lists up to MaxItems zones
    (default 100) in its order (reversed labels), beginning with the first
    whose name is DNSName or after it (and, with HostedZoneId, that zone), and
    names the next one (NextDNSName, NextHostedZoneId) when there are more.
    Mixed into moto's Route53Backend (moto's own methods are left as they are).
    """

    def list_hosted_zones_by_name_page(
        self, dns_name: str | None, hosted_zone_id: str | None, max_items: int
    ) -> tuple[list[Any], Any]:
        """(the page's zones, the first zone of the next page or None)."""
        zones = sorted(
            self.zones.values(),  # type: ignore[attr-defined]
            key=lambda z: (_zone_order(z.name), z.resource_id),
        )
        if dns_name:
            start = _zone_order(dns_name)
            zones = [z for z in zones if _zone_order(z.name) >= start]
            if hosted_zone_id:
                wanted = hosted_zone_id.split("/")[-1]
                at = next(
                    (i for i, z in enumerate(zones) if _zone_order(z.name) == start and z.resource_id >= wanted), None
                )
                zones = zones[at:] if at is not None else [z for z in zones if _zone_order(z.name) > start]
        return zones[:max_items], (zones[max_items] if len(zones) > max_items else None)

    def list_hosted_zones_by_vpc_page(
        self, vpc_id: str, max_items: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """(the page's zone summaries, the NextToken of the next page or None); the token is
        the offset of the next summary, as moto pages elsewhere."""
        summaries = self.list_hosted_zones_by_vpc(vpc_id)  # type: ignore[attr-defined]
        try:
            offset = int(next_token) if next_token else 0
        except ValueError:
            raise InvalidInput(f"Invalid NextToken {next_token!r}") from None
        page = summaries[offset : offset + max_items]
        return page, (str(offset + max_items) if offset + max_items < len(summaries) else None)
