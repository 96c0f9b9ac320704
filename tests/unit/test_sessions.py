"""aws.new_session: every session of the process reads botocore's service models
through one loader, and behaves as a plain boto3 session otherwise."""

from __future__ import annotations

from hybridnet import aws


def test_sessions_share_one_model_loader_and_its_search_paths_do_not_grow():
    first = aws.new_session(region_name="eu-west-1")
    models = first._session.get_component("data_loader")
    paths = list(models.search_paths)
    second = aws.new_session(region_name="ap-northeast-2", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x")
    assert first._session.get_component("data_loader") is second._session.get_component("data_loader")
    assert models.search_paths == paths  # boto3's own data folder added once, not per session
    assert len(paths) == len(set(paths))
    # each session keeps its own settings
    assert (first.region_name, second.region_name) == ("eu-west-1", "ap-northeast-2")
    assert second.get_credentials().access_key == "AKIDEXAMPLE"


def test_a_second_session_reads_no_model_file_again(monkeypatch):
    import botocore.loaders

    aws.new_session(region_name="eu-west-1").client("ec2").can_paginate("describe_vpn_connections")
    read = []
    original = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(
        botocore.loaders.JSONFileLoader, "load_file", lambda self, path: read.append(path) or original(self, path)
    )
    client = aws.new_session(region_name="eu-west-1").client("ec2")
    assert client.can_paginate("describe_transit_gateway_attachments")  # the paginators' model too
    assert read == []  # EC2's model alone takes about 0.1 s to read


def test_a_profile_that_does_not_exist_is_refused_when_the_session_is_made(tmp_path, monkeypatch):
    import botocore.exceptions
    import pytest

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(botocore.exceptions.ProfileNotFound):
        aws.new_session(profile_name="hybridnet-no-such-profile")
