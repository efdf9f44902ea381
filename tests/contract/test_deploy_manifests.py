"""deploy/compose.yaml, deploy/k8s/ and the Dockerfile against the official schemas and the code.

The compose file is checked against the compose-spec JSON schema (as vendored by
check-jsonschema) and every Kubernetes object against the Kubernetes JSON schemas shipped by
kubernetes-validate, strictly (unknown fields fail), all offline. Then both are checked
against the code: every setting they pass exists in a settings class, every command names
an importable app or module, every port and probe path is served, every service and the
one-shot setup are present. No Docker engine runs here, so the Dockerfile is not built: it is
parsed and its stages, user, copied paths and commands are checked.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from dockerfile_parse import DockerfileParser

from aftercare_intake.settings import IntakeSettings
from aftercare_notify.settings import NotifySettings
from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.names import SERVICE_NAMES
from aftercare_shared.settings import CommonSettings
from aftercare_sla.settings import SlaSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose.yaml"
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
SERVICES = [service.value for service in SERVICE_NAMES]
SETTINGS_CLASSES = (IntakeSettings, SlaSettings, ReleasesSettings, NotifySettings)
CONTAINER_PORT = 8000
SETUP_COMMAND = (
    "python -m aftercare_shared.topics"
    " && python -m aftercare_shared.migrate intake sla releases notify"
)


def known_settings() -> set[str]:
    names = {f"AFTERCARE_{field.upper()}" for field in CommonSettings.model_fields}
    for settings_class in SETTINGS_CLASSES:
        prefix = settings_class.model_config["env_prefix"]
        names |= {f"{prefix}{field.upper()}" for field in settings_class.model_fields}
    return names


def served_paths(service: str) -> set[str]:
    """The paths the service's real app serves (built, not started)."""
    from pydantic import SecretStr

    settings_class = next(
        c for c in SETTINGS_CLASSES if c.model_config["env_prefix"] == f"{service.upper()}_"
    )
    common = CommonSettings(admin_token=SecretStr("deploy-manifest-check-0123456789"))
    app = importlib.import_module(f"aftercare_{service}.app").create_app(
        settings=settings_class(common=common)
    )
    # The OpenAPI document lists what the routers serve; /metrics is kept out of it.
    return set(app.openapi()["paths"]) | {
        path for route in app.routes if (path := getattr(route, "path", "")) == "/metrics"
    }


def uvicorn_target(command: list[str]) -> tuple[str, int]:
    """``uvicorn --factory module:function … --port N`` → (``module:function``, N)."""
    assert command[:2] == ["uvicorn", "--factory"], command
    return command[2], int(command[command.index("--port") + 1])


def assert_factory_exists(target: str, service: str) -> None:
    module_name, _, function = target.partition(":")
    assert module_name == f"aftercare_{service}.app", target
    assert callable(getattr(importlib.import_module(module_name), function))


def assert_module_runs(module: str) -> None:
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"python -m {module}: no such module"
    assert hasattr(importlib.import_module(module), "main"), f"{module} has no main()"


# --- compose ---------------------------------------------------------------------------


def compose_validator() -> jsonschema.protocols.Validator:
    schema = get_builtin_schema("vendor.compose-spec")
    # The draft the schema declares ($schema), not one assumed here.
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    validator = compose_validator()
    problems = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not problems, "\n".join(f"{list(e.path)}: {e.message}" for e in problems)


def test_compose_schema_check_is_not_a_formality(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["intake"]["ports"] = {"8001": 8001}  # must be a list
    broken["services"]["sla"]["restrat"] = "always"
    validator = compose_validator()
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_runs_every_service_and_the_setup_from_the_dockerfile(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(SERVICES) | {"setup"} <= set(services)
    for name in [*SERVICES, "setup"]:
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == (
            REPO / "Dockerfile"
        )
        assert build["target"] in dockerfile_stages()
    assert services["setup"]["command"][-1] == SETUP_COMMAND
    assert services["setup"]["restart"] == "no"
    for name in SERVICES:
        target, port = uvicorn_target(services[name]["command"])
        assert_factory_exists(target, name)
        assert port == CONTAINER_PORT
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )
        probe = services[name]["healthcheck"]["test"][-1]
        assert f"http://127.0.0.1:{CONTAINER_PORT}/readyz" in probe
        assert "/readyz" in served_paths(name)


def test_compose_passes_only_settings_that_exist(compose: dict[str, Any]) -> None:
    for name in [*SERVICES, "setup"]:
        passed = set(compose["services"][name]["environment"])
        assert passed <= known_settings(), passed - known_settings()


def test_compose_gateway_reaches_every_service_on_its_port(compose: dict[str, Any]) -> None:
    content = compose["configs"]["gateway"]["content"]
    for index, name in enumerate(SERVICES):
        port = 8001 + index
        upstream = f"proxy_pass http://{name}:{CONTAINER_PORT};"
        assert f"server {{ listen {port}; location / {{ {upstream} }} }}" in content
        assert f"{port}:{port}" in compose["services"]["gateway"]["ports"]


def test_compose_kafka_is_three_brokers_with_two_in_sync_replicas(compose: dict[str, Any]) -> None:
    brokers = [s for s in compose["services"] if s.startswith("kafka-")]
    assert len(brokers) == 3
    environment = compose["services"]["kafka-1"]["environment"]
    assert environment["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert environment["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    app_env = compose["services"]["intake"]["environment"]
    assert app_env["AFTERCARE_TOPIC_REPLICATION_FACTOR"] == "3"
    assert app_env["AFTERCARE_KAFKA_BOOTSTRAP_SERVERS"].split(",") == [f"{b}:9092" for b in brokers]


# --- Kubernetes ------------------------------------------------------------------------


def k8s_objects() -> list[tuple[str, dict[str, Any]]]:
    objects = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        objects += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return objects


@pytest.mark.parametrize(
    ("source", "manifest"),
    k8s_objects(),
    ids=[f"{source}:{doc['kind']}/{doc['metadata']['name']}" for source, doc in k8s_objects()],
)
def test_kubernetes_object_is_valid_against_the_schema(
    source: str, manifest: dict[str, Any]
) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_kubernetes_schema_check_is_not_a_formality() -> None:
    deployment = next(doc for _, doc in k8s_objects() if doc["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert [image["name"] for image in kustomization["images"]] == ["aftercare"]


def _containers(kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]
        for _, doc in k8s_objects()
        if doc["kind"] == kind
    }


def test_kubernetes_runs_every_service_with_probes_the_app_serves() -> None:
    deployments = _containers("Deployment")
    assert set(deployments) == set(SERVICES)
    for name, container in deployments.items():
        served = served_paths(name)
        assert container["image"] == "aftercare"
        target, port = uvicorn_target(container["command"])
        assert_factory_exists(target, name)
        assert [p["containerPort"] for p in container["ports"]] == [port] == [CONTAINER_PORT]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"/readyz", "/healthz", "/metrics"} <= served
        assert container["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_setup_job_creates_topics_then_migrates() -> None:
    jobs = _containers("Job")
    assert set(jobs) == {"aftercare-setup"}
    container = jobs["aftercare-setup"]
    assert container["image"] == "aftercare"
    assert container["args"] == [SETUP_COMMAND]
    for module in ("aftercare_shared.topics", "aftercare_shared.migrate"):
        assert_module_runs(module)


def test_kubernetes_passes_only_settings_that_exist() -> None:
    config = next(doc for _, doc in k8s_objects() if doc["kind"] == "ConfigMap")
    passed = set(config["data"])
    for container in [*_containers("Deployment").values(), *_containers("Job").values()]:
        passed |= {variable["name"] for variable in container.get("env", [])}
    assert passed <= known_settings(), passed - known_settings()


# --- Dockerfile ------------------------------------------------------------------------


def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(REPO / "Dockerfile"))
    return parser


def dockerfile_stages() -> list[str]:
    return [
        instruction["value"].split()[-1]
        for instruction in dockerfile().structure
        if instruction["instruction"] == "FROM" and " AS " in instruction["value"].upper()
    ]


def test_dockerfile_builds_with_uv_in_a_stage_and_runs_as_an_unprivileged_user() -> None:
    assert dockerfile_stages() == ["build", "runtime"]
    instructions = dockerfile().structure
    runs = [i["value"] for i in instructions if i["instruction"] == "RUN"]
    assert any("uv sync --frozen --no-dev" in run for run in runs)
    last_stage = max(i for i, x in enumerate(instructions) if x["instruction"] == "FROM")
    users = [x["value"] for x in instructions[last_stage:] if x["instruction"] == "USER"]
    assert users, "the runtime stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert any(f"--uid {user}" in run for run in runs)


def test_dockerfile_copies_what_exists_and_runs_installed_commands() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for instruction in dockerfile().structure:
        if instruction["instruction"] != "COPY" or "--from=" in instruction["value"]:
            continue
        *sources, _target = instruction["value"].split()
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert source.split("/")[0] not in ignored, f"COPY {source} is in .dockerignore"
    scripts = tomllib.loads((REPO / "cli" / "pyproject.toml").read_text())["project"]["scripts"]
    command = json.loads(dockerfile().cmd if dockerfile().cmd else "[]")
    assert command[0] in scripts
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    copied = {i["value"].split()[0] for i in dockerfile().structure if i["instruction"] == "COPY"}
    for member in members["members"]:
        assert member.split("/")[0] in copied, f"workspace member {member} is not copied"
