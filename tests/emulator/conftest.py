from __future__ import annotations

import boto3
import pytest

from hybridnet import emulator

REGION = "ap-northeast-2"


@pytest.fixture(scope="session")
def endpoint() -> str:
    return emulator.start().endpoint


@pytest.fixture(scope="session")
def ec2(endpoint: str):
    return boto3.client("ec2", region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture
def tgw(ec2) -> dict:
    return ec2.create_transit_gateway(Options={"AmazonSideAsn": 64600})["TransitGateway"]


@pytest.fixture
def cgw(ec2) -> dict:
    return ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65016, IpAddress="198.51.100.10")["CustomerGateway"]
