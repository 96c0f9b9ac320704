"""Fixtures shared by the router renderer, linter and apply tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hybridnet.render import RouterSite
from hybridnet.vpnconfig import VpnConnectionConfig, parse_customer_gateway_configuration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def cfg() -> VpnConnectionConfig:
    """The two-tunnel CustomerGatewayConfiguration AWS returns, parsed."""
    return parse_customer_gateway_configuration((FIXTURES / "cgw_config_two_tunnels.xml").read_text())


@pytest.fixture
def site() -> RouterSite:
    return RouterSite(cgw_asn=65016, onprem_cidrs=["192.168.0.0/16"], vpc_cidrs=["10.0.0.0/16"])
