from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from botocore.config import Config
from hybridnet import emulator

REGION = "ap-northeast-2"
ONE_TRY = Config(retries={"max_attempts": 1, "mode": "standard"})  # an error is the answer, not a retry


@pytest.fixture(scope="module")
def info(own_emulator) -> emulator.EmulatorInfo:
    """The module's own emulator (tests/conftest.py), for tests that check what it refuses."""
    return own_emulator


@pytest.fixture(scope="module")
def client(info) -> Callable:
    """client(service, **keys): signed with the emulator's credentials, or with `keys`
    (aws_access_key_id=..., ...) when given; no retries."""

    def make(service: str, **keys):
        if not keys:
            return emulator.client(service, REGION, info, config=ONE_TRY)
        return boto3.client(service, region_name=REGION, endpoint_url=info.endpoint, config=ONE_TRY, **keys)

    return make


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
