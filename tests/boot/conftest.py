"""Fixtures of the boot tier: services started once per session, shared by every combination."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.boot.services import (
    RedisServer,
    redis_server,
    require_postgres,
    require_rabbitmq,
    sqs_endpoint,
)


@pytest.fixture(scope="session")
def boot_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def boot_sqs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sqs_endpoint(tmp_path_factory.mktemp("sqs") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def boot_services(boot_redis, boot_sqs) -> dict:
    require_postgres()
    require_rabbitmq()
    return {"redis": boot_redis, "sqs": boot_sqs}


def boot_mode() -> str:
    """`full` (the default) boots every runtime combination; `quick`, a pairwise subset."""
    mode = os.environ.get("CDC_BOOT", "full")
    if mode not in ("quick", "full"):
        raise pytest.UsageError(f"CDC_BOOT must be quick or full, not {mode!r}")
    return mode


def pytest_report_header(config) -> str:
    return f"boot tier: {boot_mode()} (CDC_BOOT=quick|full)"


@pytest.fixture
def boot_dir(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path
