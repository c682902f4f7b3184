"""compose.yaml against the code, with no Docker: every service runs its real module,
every CASESTREAM__ variable names a real settings field and parses, required settings
and secrets are wired, ports and service names agree."""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

from libs.common.settings import ENV_PREFIX, ApiCredential, CommonSettings

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
SERVICES = ("ingest", "alerting", "cases", "notifier", "executor", "relay")
# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (compose interpolation).
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z0-9_]+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
REQUIRED_SECRET = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")
COMMON_REQUIRED = ("DATABASE__URL", "KAFKA__BOOTSTRAP_SERVERS")
REQUIRED = {
    "ingest": ("INGEST__API_KEYS", "INGEST__PORT", "INGEST__HOST"),
    "alerting": (),
    "cases": ("CASES__API_KEYS", "CASES__PORT", "CASES__HOST"),
    "notifier": ("NOTIFIER__WEBHOOK_SECRET",),
    "executor": ("EXECUTOR__CASES_API_URL", "EXECUTOR__CASES_API_KEY"),
    "relay": (),
}
HTTP_SECTIONS = {"ingest": "ingest", "cases": "cases"}


def service(name: str) -> dict[str, Any]:
    services: dict[str, dict[str, Any]] = COMPOSE["services"]
    assert name in services, f"compose.yaml has no service {name!r}"
    return services[name]


def environment(name: str) -> dict[str, str]:
    env = service(name).get("environment", {})
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def casestream_env(name: str) -> dict[str, str]:
    return {k: v for k, v in environment(name).items() if k.startswith(ENV_PREFIX)}


def command(name: str) -> list[str]:
    cmd = service(name).get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else [str(part) for part in cmd]


def settings_class(name: str) -> type[BaseSettings]:
    if name == "migrate":
        return CommonSettings
    module = importlib.import_module(f"services.{name}.settings")
    cls: type[BaseSettings] = getattr(module, f"{name.capitalize()}Settings")
    return cls


def field_for(cls: type[BaseModel], var: str) -> Any:
    """The pydantic field CASESTREAM__A__B names, or a failure naming the variable."""
    model: type[BaseModel] = cls
    parts = var.removeprefix(ENV_PREFIX).lower().split("__")
    for depth, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            pytest.fail(f"{var}: {model.__name__} has no field {part!r}")
        if depth == len(parts) - 1:
            return field
        nested = field.annotation
        if not (isinstance(nested, type) and issubclass(nested, BaseModel)):
            pytest.fail(f"{var}: {model.__name__}.{part} is not a section with fields")
        model = nested
    raise AssertionError("unreachable")


def sample_for(field: Any) -> str:
    """A valid stand-in for an interpolated value, so the settings can be built."""
    annotation = str(field.annotation)
    if "ApiCredential" in annotation:
        return '[{"key": "sample-key", "tenant": "t1", "name": "sample"}]'
    if annotation.startswith("list"):
        return '["https://hooks.example.com/casestream"]'
    return "sample"


def resolved(value: str, field: Any) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group("op") in (":-", "-"):
            return match.group("arg")
        return sample_for(field) if match.group(0) == value else "sample"

    return INTERPOLATION.sub(substitute, value)


def build_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    cls = settings_class(name)
    env = casestream_env(name)
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, resolved(value, field_for(cls, key)))
    return cls()


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_its_module(name: str) -> None:
    assert command(name) == ["python", "-m", f"services.{name}"], command(name)
    assert (REPO / "services" / name / "__main__.py").is_file(), f"services/{name}/__main__.py"
    assert service(name).get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    assert service(name)["image"] == service("migrate")["image"], "one image for all"


@pytest.mark.parametrize("name", [*SERVICES, "migrate"])
def test_every_casestream_variable_is_a_settings_field_that_parses(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = settings_class(name)
    for var in casestream_env(name):
        field_for(cls, var)
    build_settings(name, monkeypatch)  # pydantic validates every value


@pytest.mark.parametrize("name", SERVICES)
def test_required_settings_are_set(name: str) -> None:
    env = casestream_env(name)
    missing = [
        f"{ENV_PREFIX}{suffix}"
        for suffix in (*COMMON_REQUIRED, *REQUIRED[name])
        if not env.get(f"{ENV_PREFIX}{suffix}")
    ]
    assert not missing, f"{name} lacks {missing}"


def masked(value: str) -> tuple[str, list[str]]:
    """`value` with each interpolation replaced by a URL-safe marker, and the originals.

    `${X:?message}` contains `?`, which would otherwise end a URL's authority."""
    originals: list[str] = []

    def mark(match: re.Match[str]) -> str:
        originals.append(match.group(0))
        return f"interpolated{len(originals) - 1}"

    return INTERPOLATION.sub(mark, value), originals


def url_parts(value: str) -> SplitResult:
    return urlsplit(masked(value)[0])


@pytest.mark.parametrize("name", [*SERVICES, "migrate"])
def test_secrets_come_from_required_interpolation(name: str) -> None:
    cls = settings_class(name)
    for var, value in casestream_env(name).items():
        annotation = str(field_for(cls, var).annotation)
        if SecretStr.__name__ not in annotation and ApiCredential.__name__ not in annotation:
            continue
        if "://" in value:
            text, originals = masked(value)
            password = urlsplit(text).password
            if password is None:
                continue  # a URL without credentials, e.g. redis://redis:6379/0
            secret = originals[int(password.removeprefix("interpolated"))] if originals else ""
        else:
            secret = value
        assert REQUIRED_SECRET.match(secret), f"{name}: {var} holds a literal secret"
    for var, value in environment(name).items():
        if any(word in var for word in ("PASSWORD", "SECRET")):
            assert REQUIRED_SECRET.match(value), f"{name}: {var} holds a literal secret"


@pytest.mark.parametrize("name", list(HTTP_SECTIONS))
def test_published_port_is_the_configured_port(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    section = getattr(build_settings(name, monkeypatch), HTTP_SECTIONS[name])
    # Inside a container the service must listen on all interfaces to be published.
    assert section.host == "0.0.0.0", f"{name} listens on {section.host}"  # noqa: S104
    container_ports = []
    for entry in service(name).get("ports", []):
        target = entry.get("target") if isinstance(entry, dict) else str(entry).split(":")[-1]
        container_ports.append(int(str(target).split("/")[0]))
    assert container_ports == [section.port], f"{name}: ports {container_ports}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_migrations(name: str) -> None:
    depends = service(name).get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on needs the long form with conditions"
    assert depends.get("migrate", {}).get("condition") == "service_completed_successfully"


def test_migrate_runs_the_migrations_module() -> None:
    assert command("migrate") == ["python", "-m", "libs.common.migrations", "upgrade", "head"]
    assert (REPO / "libs" / "common" / "migrations" / "__main__.py").is_file()
    assert service("migrate").get("restart", "no") == "no"


@pytest.mark.parametrize("name", [*SERVICES, "migrate"])
def test_infrastructure_addresses_name_compose_services(name: str) -> None:
    env = casestream_env(name)
    for server in env[f"{ENV_PREFIX}KAFKA__BOOTSTRAP_SERVERS"].split(","):
        assert server.strip() in environment("kafka")["KAFKA_ADVERTISED_LISTENERS"], server
        assert server.split(":")[0] == "kafka"
    assert url_parts(env[f"{ENV_PREFIX}DATABASE__URL"]).hostname == "postgres"
    redis_url = env.get(f"{ENV_PREFIX}REDIS__URL")
    if redis_url is not None:
        assert url_parts(redis_url).hostname == "redis"
    for host in json.loads(env.get(f"{ENV_PREFIX}ALERT_STORE__OPENSEARCH__HOSTS", "[]")):
        assert url_parts(host).hostname == "opensearch", host


def test_executor_calls_the_cases_service(monkeypatch: pytest.MonkeyPatch) -> None:
    cases_port = build_settings("cases", monkeypatch).cases.port
    url = url_parts(casestream_env("executor")[f"{ENV_PREFIX}EXECUTOR__CASES_API_URL"])
    assert (url.hostname, url.port) == ("cases", cases_port)


def test_production_infrastructure_is_present() -> None:
    images = {name: str(svc.get("image", "")) for name, svc in COMPOSE["services"].items()}
    for wanted in ("apache/kafka", "postgres:17", "redis:7", "opensearchproject/opensearch:2"):
        assert any(image.startswith(wanted) for image in images.values()), wanted
    assert environment("kafka")["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft


def test_dockerfile_installs_from_the_lock_as_non_root() -> None:
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in ("root", "0")
