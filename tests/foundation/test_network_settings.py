"""The ``network`` setting (VPC placement): absent by default, refused with one line when bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops.core.settings import SettingsError, load_settings

VPC = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
ROUTE_TABLES = ["rtb-0123456789abcdef0"]
GOOD = {"vpc_id": VPC, "subnet_ids": SUBNETS, "route_table_ids": ROUTE_TABLES}


def test_nothing_is_placed_in_a_vpc_by_default() -> None:
    assert load_settings().network is None


def test_a_network_reads_ids_and_creates_endpoints_by_default() -> None:
    network = load_settings({"network": GOOD}).network
    assert network is not None
    assert (network.vpc_id, network.subnet_ids) == (VPC, tuple(SUBNETS))
    assert network.security_group_ids == ()
    assert network.create_endpoints is True


def test_the_environment_sets_a_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_NETWORK__VPC_ID", VPC)
    monkeypatch.setenv("MLOPS_NETWORK__SUBNET_IDS", json.dumps(SUBNETS))
    monkeypatch.setenv("MLOPS_NETWORK__CREATE_ENDPOINTS", "false")
    network = load_settings().network
    assert network is not None
    assert network.subnet_ids == tuple(SUBNETS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"subnet_ids": []},
            "setting network.subnet_ids = []: list at least one private subnet",
        ),
        (
            {"vpc_id": "vpc-123"},
            "setting network.vpc_id = 'vpc-123': must be an id like vpc-0123456789abcdef0",
        ),
        (
            {"subnet_ids": ["subnet-xyz"]},
            "setting network.subnet_ids = ['subnet-xyz']: must be an id like subnet-",
        ),
        (
            {"security_group_ids": ["sg-12"]},
            "setting network.security_group_ids = ['sg-12']: must be an id like sg-",
        ),
        (
            {"subnet_ids": [SUBNETS[0], SUBNETS[0]]},
            "listed more than once",
        ),
        (
            {"route_table_ids": []},
            "setting network.route_table_ids = []: the S3 gateway endpoint needs the private "
            "subnets' route tables",
        ),
    ],
)
def test_a_bad_network_is_refused_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({"network": {**GOOD, **change}})
    assert message in str(error.value)
    assert len(str(error.value).splitlines()) == 1


def test_endpoints_left_to_the_vpc_need_no_route_tables() -> None:
    network = load_settings(
        {"network": {"vpc_id": VPC, "subnet_ids": SUBNETS, "create_endpoints": False}}
    ).network
    assert network is not None
    assert network.route_table_ids == ()


def test_a_stage_in_another_account_cannot_share_the_vpc() -> None:
    stages = [{"name": "staging", "account": "222222222222"}, {"name": "prod"}]
    with pytest.raises(SettingsError, match=r"stages \['staging'\] are in another account"):
        load_settings({"account": "111111111111", "stages": stages, "network": GOOD})


def test_a_bad_network_stops_the_synth_with_one_line(repo_root: Path) -> None:
    env = {
        **os.environ,
        "MLOPS_NETWORK__VPC_ID": VPC,
        "MLOPS_NETWORK__SUBNET_IDS": '["subnet-0123"]',
        "MLOPS_NETWORK__ROUTE_TABLE_IDS": json.dumps(ROUTE_TABLES),
        "CDK_OUTDIR": "/nonexistent",
    }
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "cdk.json: invalid settings",
        "setting network.subnet_ids = ['subnet-0123']: must be an id like subnet-0123456789abcdef0",
    ]
