"""The container recipe agrees with the code: compose.yaml runs commands the CLI has, sets
only variables the configuration reads, checks health where a process lives long, and the
image runs as a non-root user from the locked install."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mimic.application.throttle import RateLimits
from mimic.entrypoints import config
from mimic.entrypoints.cli import build_parser
from tests.paths import ROOT

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
MIMIC_SERVICES = {name: s for name, s in SERVICES.items() if "mimic" in str(s.get("image"))}
LONG_RUNNING = {"serve", "worker", "scheduler", "telegram", "postgres", "redis"}


def known_variables() -> set[str]:
    """Every MIMIC_* name the configuration reads (rate limits are read by their field)."""
    source = Path(config.__file__).read_text()
    names = set(re.findall(r'"(MIMIC_[A-Z0-9_]+)"', source))
    names |= {f"MIMIC_RATE_{name.upper()}" for name in RateLimits.__dataclass_fields__}
    return names


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def test_compose_runs_every_process_of_the_platform_in_its_numbers() -> None:
    assert {"postgres", "redis", "migrate", "serve", "worker", "scheduler", "telegram"} <= set(
        SERVICES
    )
    replicas = {name: s.get("deploy", {}).get("replicas", 1) for name, s in MIMIC_SERVICES.items()}
    assert (replicas["serve"], replicas["worker"], replicas["scheduler"]) == (2, 2, 1)
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("serve", "worker", "scheduler", "telegram"):
        waits_for = SERVICES[name]["depends_on"]
        assert waits_for["migrate"] == {"condition": "service_completed_successfully"}, name
        assert waits_for["postgres"] == {"condition": "service_healthy"}, name


@pytest.mark.parametrize("service", sorted(MIMIC_SERVICES))
def test_each_mimic_service_runs_a_command_the_cli_has(service: str) -> None:
    command = MIMIC_SERVICES[service]["command"]
    assert build_parser().parse_args(command).command == command[0]


@pytest.mark.parametrize("service", sorted(MIMIC_SERVICES))
def test_each_variable_compose_sets_is_one_the_configuration_reads(service: str) -> None:
    unknown = set(MIMIC_SERVICES[service]["environment"]) - known_variables()
    assert not unknown, f"{service} sets variables Mimic never reads: {sorted(unknown)}"


def test_each_variable_of_the_env_example_is_read_by_someone() -> None:
    example = env_file(ROOT / ".env.example")
    used_by_compose = set(re.findall(r"\$\{(\w+)", (ROOT / "compose.yaml").read_text()))
    unknown = set(example) - known_variables() - used_by_compose
    assert not unknown, f".env.example names variables nobody reads: {sorted(unknown)}"
    # The secrets every process must share are there to be filled in.
    for name in ("MIMIC_SECRET_KEY", "MIMIC_MASTER_KEYS", "MIMIC_PANIC_TOTP_SECRET"):
        assert example[name], name


def test_long_running_services_check_their_health_and_keep_their_data() -> None:
    for name in LONG_RUNNING:
        assert SERVICES[name].get("healthcheck", {}).get("test"), f"{name} has no health check"
    volumes = set(COMPOSE["volumes"])
    for name in ("postgres", "redis", "serve", "worker"):
        mounted = {mount.split(":")[0] for mount in SERVICES[name]["volumes"]}
        assert mounted & volumes, f"{name} keeps nothing in a named volume"
    # The processes without HTTP are checked on their metrics port: it must be the one set.
    for name in ("worker", "scheduler", "telegram"):
        port = SERVICES[name]["environment"]["MIMIC_METRICS_PORT"]
        assert f"127.0.0.1:{port}/metrics" in str(SERVICES[name]["healthcheck"]["test"]), name
    assert "/health/ready" in str(SERVICES["serve"]["healthcheck"]["test"])


def test_the_image_is_multi_stage_locked_and_not_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", dockerfile, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    build, runtime = dockerfile.split("AS runtime")
    assert "uv sync --locked" in build
    # The runtime stage installs nothing itself: it copies what the build stage locked.
    assert "pip install" not in runtime
    assert "uv sync" not in runtime
    assert "COPY --from=build /app /app" in runtime
    users = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["mimic"]' in runtime
