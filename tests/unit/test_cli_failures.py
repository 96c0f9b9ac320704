"""Known failures end in one clear message and an exit code, never a traceback:
an account that cannot be reached (exit 4, before anything is created) and a
notebook that stops at a cell (exit 3, naming the notebook, the cell, the error
and the notebook as far as it ran)."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import nbformat
import pytest
import yaml
from hybridnet import cli, execute, workspace
from hybridnet.aws import AwsContext, caller_identity, connect
from hybridnet.errors import CredentialsError
from hybridnet.locks import stack_lock
from hybridnet.params import load_params

ROOT = Path(__file__).resolve().parents[2]


def params_file(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((ROOT / "params" / "lab.yaml").read_text())
    data.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def no_aws_config(tmp_path: Path, monkeypatch):
    """No credentials anywhere botocore looks, and no instance metadata to ask."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path / "home"))


def test_a_profile_that_does_not_exist_is_one_line_exit_4(tmp_path, no_aws_config, capsys):
    path = params_file(tmp_path, target="aws", profile="hybridnet-no-such-profile", lab="off")
    assert cli.main(["run", "--params", str(path)]) == 4
    err = capsys.readouterr().err
    assert "profile: 'hybridnet-no-such-profile' is not in ~/.aws/config" in err
    assert "aws configure --profile hybridnet-no-such-profile" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not list(workspace.outputs_dir().glob("*-run"))  # nothing started


def test_no_credentials_at_all_is_one_line_exit_4(tmp_path, no_aws_config, capsys):
    path = params_file(tmp_path, target="aws", lab="off")
    assert cli.main(["healthcheck", "--params", str(write_healthcheck(tmp_path, path))]) == 4
    err = capsys.readouterr().err
    assert "no AWS credentials" in err and "Traceback" not in err


def write_healthcheck(tmp_path: Path, params: Path) -> Path:
    data = yaml.safe_load((ROOT / "params" / "healthcheck.yaml").read_text())
    data["params"] = params.name
    path = tmp_path / "healthcheck.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_credentials_the_account_refuses_name_the_code(own_emulator):
    ctx = connect(load_params(ROOT / "params" / "lab.yaml", overrides={"lab": "off"}))
    assert caller_identity(ctx)["Account"].isdigit()  # the emulator's own keys: accepted
    stranger = boto3.session.Session(
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        region_name=ctx.params.region,
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    refused = AwsContext(ctx.params, stranger, ctx.endpoint_url, waiter_delay=1)
    with pytest.raises(CredentialsError, match=r"AWS refused the credentials: InvalidClientTokenId: .*not valid"):
        caller_identity(refused)


def test_a_failing_notebook_is_one_block_exit_3(tmp_path, monkeypatch, capsys, own_emulator):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    book = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('params_file = ""\nrun_dir = ""', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("checked = 1"),
            nbformat.v4.new_code_cell(
                '# phase 1\nraise RuntimeError("InvalidParameterValue: the tunnel inside CIDR '
                '169.254.31.0/30 is already in use")'
            ),
        ]
    )
    book.metadata["kernelspec"] = {"name": execute.KERNEL, "display_name": "Python 3", "language": "python"}
    nbformat.write(book, notebooks / f"{execute.NOTEBOOKS[0]}.ipynb")
    monkeypatch.setattr(execute, "notebooks_dir", lambda: notebooks)
    path = params_file(tmp_path, lab="off")

    assert cli.main(["run", "--only", "01", "--params", str(path)]) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    # the cell as Jupyter labels it in the saved notebook (papermill's injected parameters ran first)
    assert lines[0].startswith(
        f"hybridnet: notebook {execute.NOTEBOOKS[0]} failed at In [4]: "
        'raise RuntimeError("InvalidParameterValue: the tunnel inside CIDR'
    )
    assert lines[1] == (
        "  RuntimeError: InvalidParameterValue: the tunnel inside CIDR 169.254.31.0/30 is already in use"
    )
    saved = Path(lines[2].split(": ", 1)[1])
    assert saved.name == f"{execute.NOTEBOOKS[0]}.ipynb" and saved.is_file()
    assert lines[3] == "  (exit 3)" and "Traceback" not in err


def test_a_second_command_on_the_same_stack_refuses_naming_the_first(tmp_path, capsys, own_emulator):
    path = params_file(tmp_path, lab="off")
    params = load_params(path)

    def runs() -> set[Path]:
        return set(workspace.outputs_dir().glob("*-run"))

    with stack_lock(params, "hybridnet run"):
        before = runs()
        assert cli.main(["run", "--params", str(path)]) == 5
        err = capsys.readouterr().err
        assert (
            f"stack 'anycompany' (emulator, ap-northeast-2) is being changed by `hybridnet run` (pid {os.getpid()}"
            in err
            and "interleave" in err
            and "Traceback" not in err
        )
        assert runs() == before  # refused before anything was created
        other = params.model_copy(update={"name": "otherstack"})
        with stack_lock(other, "hybridnet run"):  # another stack is not held up
            pass
    with stack_lock(params, "hybridnet teardown"):  # released with the block
        pass
