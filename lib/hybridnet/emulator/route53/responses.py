"""Route 53 protocol on moto's Route53 response class: GET /2013-04-01/testdnsanswer,
and ListHostedZonesByName / ListHostedZonesByVPC as pages."""

from __future__ import annotations

from typing import cast

from moto.core.responses import ActionResult
from moto.route53.exceptions import InvalidInput
from moto.route53.responses import Route53

from .models import DnsAnswerBackend, HostedZoneListingBackend

URL_PATH = r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"


class DnsAnswerResponses(Route53):
    def test_dns_answer(self) -> ActionResult:
        # moto's Route53Backend, with DnsAnswerBackend installed into it
        answer = cast(DnsAnswerBackend, self.backend).test_dns_answer(
            self._get_param("HostedZoneId"),
            self._get_param("RecordName"),
            self._get_param("RecordType"),
        )
        return ActionResult(answer)


class HostedZoneListingResponses(Route53):
    """ListHostedZonesByName / ListHostedZonesByVPC with their pages: moto's answers lack
    IsTruncated and MaxItems (ByName) and MaxItems (ByVPC), which botocore's model
    requires (models.HostedZoneListingBackend)."""

    def list_hosted_zones_by_name(self) -> ActionResult:
        dns_name = self._get_param("DNSName")
        hosted_zone_id = self._get_param("HostedZoneId")
        max_items = _max_items(self._get_param("MaxItems"))
        if hosted_zone_id and not dns_name:
            raise InvalidInput("HostedZoneId requires DNSName")
        backend = cast(HostedZoneListingBackend, self.backend)  # moto's, with the listing installed into it
        zones, following = backend.list_hosted_zones_by_name_page(dns_name, hosted_zone_id, max_items)
        result = {
            "HostedZones": zones,
            "DNSName": dns_name,
            "HostedZoneId": hosted_zone_id,
            "IsTruncated": following is not None,
            "MaxItems": str(max_items),
        }
        if following is not None:
            result["NextDNSName"] = following.name
            result["NextHostedZoneId"] = following.resource_id
        return ActionResult(result)

    def list_hosted_zones_by_vpc(self) -> ActionResult:
        backend = cast(HostedZoneListingBackend, self.backend)  # moto's, with the listing installed into it
        summaries, next_token = backend.list_hosted_zones_by_vpc_page(
            self._get_param("VPCId"), _max_items(self._get_param("MaxItems")), self._get_param("NextToken")
        )
        result = {"HostedZoneSummaries": summaries, "MaxItems": str(_max_items(self._get_param("MaxItems")))}
        if next_token:
            result["NextToken"] = next_token
        return ActionResult(result)


def _max_items(value: str | int | None) -> int:
    """MaxItems as AWS reads it: 1 to 100, 100 when not given."""
    if value in (None, ""):
        return 100
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"Invalid MaxItems {value!r}") from None
    if not 1 <= number <= 100:
        raise InvalidInput(f"MaxItems {number} must be between 1 and 100")
    return number
