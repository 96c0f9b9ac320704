"""DescribeCustomerGateways filters: moto ignores tag:* and state filters and
compares bgp-asn as an integer against the API's string values, so a lookup
by tags (how hybridnet finds what it created) never matched."""

from __future__ import annotations

from typing import Any

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.customer_gateways import CustomerGateway
from moto.ec2.utils import generic_filter


class FilterableCustomerGateway:
    # installed into moto's CustomerGateway, which self is then; mypy cannot follow the installation
    def get_filter_value(self: CustomerGateway, filter_name: str, method_name: str | None = None) -> Any:  # type: ignore[misc]
        values = {
            "customer-gateway-id": self.id,
            "bgp-asn": str(self.bgp_asn),
            "ip-address": self.ip_address,
            "state": self.state,
            "type": self.type,
        }
        if filter_name in values:
            return values[filter_name]
        return TaggedEC2Resource.get_filter_value(self, filter_name, "DescribeCustomerGateways")


class FilteringCustomerGatewayBackend:
    def describe_customer_gateways(self, filters: Any = None, customer_gateway_ids: list[str] | None = None) -> list:
        gateways = list(self.customer_gateways.values())  # type: ignore[attr-defined]
        if customer_gateway_ids:
            gateways = [g for g in gateways if g.id in customer_gateway_ids]
        return generic_filter(filters, gateways)
