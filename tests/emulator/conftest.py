from __future__ import annotations

from typing import Callable

import pytest

from hybridnet import emulator

REGION = "ap-northeast-2"


@pytest.fixture(scope="session")
def emulator_info() -> emulator.EmulatorInfo:
    return emulator.start()


@pytest.fixture(scope="session")
def endpoint(emulator_info: emulator.EmulatorInfo) -> str:
    return emulator_info.endpoint


@pytest.fixture(scope="session")
def aws_client(emulator_info: emulator.EmulatorInfo) -> Callable:
    """aws_client(service, **config): a boto3 client signed with the emulator's own credentials."""
    from botocore.config import Config

    def make(service: str, region: str = REGION, **config):
        return emulator.client(service, region, emulator_info, config=Config(**config) if config else None)

    return make


@pytest.fixture(scope="session")
def ec2(aws_client):
    return aws_client("ec2")


@pytest.fixture
def tgw(ec2) -> dict:
    return ec2.create_transit_gateway(Options={"AmazonSideAsn": 64600})["TransitGateway"]


@pytest.fixture
def cgw(ec2) -> dict:
    return ec2.create_customer_gateway(Type="ipsec.1", BgpAsn=65016, IpAddress="198.51.100.10")["CustomerGateway"]
