"""The `democtl render` contract: with DEMO_RUNTIME=kubernetes and nothing else (no cluster,
server, store or other setting) it prints every object of one demo as multi-document YAML,
valid for Kubernetes 1.35 and the Gateway API, secrets redacted; bad input is one line on stderr
and a non-zero exit."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.kubernetes import tools
from tests.kubernetes.conftest import (
    DOMAIN,
    INGRESS_TLS,
    INSTANCE,
    ROUTE_KINDS,
    SCENARIOS,
    Rendered,
    RenderFn,
)


def test_the_documented_command_prints_the_whole_demo(
    render_process: RenderFn, clean_home: Path
) -> None:
    before = datetime.now(UTC)
    result = render_process("--scenario", "agency", "--id", INSTANCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("---\napiVersion: v1\nkind: Namespace\n")
    objects = result.objects
    kinds = [obj["kind"] for obj in objects]
    for kind in [
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "Secret",
        "ConfigMap",
        "Service",
        "Deployment",
        "StatefulSet",
        "Job",
        "HTTPRoute",
    ]:
        assert kind in kinds, kind
    namespace = objects[0]["metadata"]
    assert namespace["name"] == INSTANCE
    expires = datetime.strptime(namespace["annotations"]["janitor/expires"], "%Y-%m-%dT%H:%M:%SZ")
    expected = before + timedelta(hours=2)
    assert abs(expires.replace(tzinfo=UTC) - expected) < timedelta(minutes=1)
    # With no data-service settings the demo's data lives in its namespace.
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert {
        ("StatefulSet", "postgresql"),
        ("StatefulSet", "redis"),
        ("StatefulSet", "rabbitmq"),
        ("Job", "migrate-seed"),
    } <= names
    assert "<redacted>" in result.stdout
    # Nothing was written where it ran: no store, no data folder.
    assert not (clean_home / ".demo").exists()


@pytest.mark.parametrize("kind", list(ROUTE_KINDS))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_is_valid(
    matrix: dict[tuple[str, str], Rendered],
    matrix_gateway_errors: dict[tuple[str, str], list[str]],
    scenario: str,
    kind: str,
) -> None:
    objects = matrix[(scenario, kind)].objects
    assert tools.kubernetes_errors(objects) == []
    assert matrix_gateway_errors[(scenario, kind)] == []
    seed = next(obj for obj in objects if obj["kind"] == "Job")
    command = seed["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--scenario") + 1] == scenario
    routes = {obj["kind"] for obj in objects} & {"HTTPRoute", "Ingress"}
    assert routes == ({"HTTPRoute"} if kind == "httproute" else {"Ingress"})


def test_without_the_kubernetes_runtime_it_says_so(
    render: RenderFn, render_process: RenderFn
) -> None:
    for run, runtime in ((render_process, None), (render, "local")):
        result = run("--scenario", "agency", "--id", INSTANCE, runtime=runtime)
        assert result.returncode != 0
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert "kubernetes runtime" in result.stderr and "DEMO_RUNTIME=kubernetes" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("--scenario", "nope", "--id", INSTANCE), {}, "unknown scenario 'nope'"),
        (("--scenario", "agency", "--id", "demo-ABC123"), {}, "not an instance id"),
        (("--scenario", "agency", "--id", "abc123"), {}, "not an instance id"),
        (("--scenario", "agency"), {}, "--id demo-xxxxxx"),
        (("--id", INSTANCE, "--values", "/nonexistent.yaml"), {}, "no such file"),
        (("--id", INSTANCE, "--hours", "99"), {}, "--hours"),
        (("--id", INSTANCE), {"DEMO_KUBERNETES_ROUTE_KIND": "ingress"}, "needs TLS"),
        (("--id", INSTANCE), {"DEMO_KUBERNETES_ROUTE_KIND": "nginx"}, "DEMO_KUBERNETES_ROUTE_KIND"),
        (("--id", INSTANCE), {"DEMO_KUBERNETES_GATEWAY": "just-a-name"}, "DEMO_KUBERNETES_GATEWAY"),
        (
            ("--id", INSTANCE),
            {"DEMO_REDIS_URL": "redis://u:pw@cache.example.net:6379/0"},
            "cannot allow by name",
        ),
    ],
)
def test_bad_input_is_one_line_and_a_failure(
    render: RenderFn, args: tuple[str, ...], env: dict[str, str], says: str
) -> None:
    result = render(*args, env=env)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_input_fails_the_same_way_in_a_process(render_process: RenderFn) -> None:
    result = render_process("--scenario", "nope", "--id", INSTANCE)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip().splitlines() == [
        "error: unknown scenario 'nope' of splits-network; known: agency, enterprise, startup"
    ]


def test_extra_values_reach_the_chart(render: RenderFn, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("image:\n  name: registry.example/splits-stack:9.9.9\n  pullPolicy: Always\n")
    objects = render("--id", INSTANCE, "--values", str(values)).objects
    app = next(obj for obj in objects if obj["kind"] == "Deployment")
    container = app["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/splits-stack:9.9.9"
    assert container["imagePullPolicy"] == "Always"


def test_the_stack_image_setting_is_used(render: RenderFn) -> None:
    env = {"DEMO_KUBERNETES_IMAGE": "registry.example/splits/splits-stack:1.2.3"}
    objects = render("--id", INSTANCE, env=env).objects
    images = {
        container["image"]
        for obj in objects
        if obj["kind"] in ("Deployment", "Job")
        for container in obj["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example/splits/splits-stack:1.2.3"}


def test_show_secrets_prints_the_values(render: RenderFn) -> None:
    shown = render("--id", INSTANCE, show_secrets=True)
    secret = next(
        obj
        for obj in shown.objects
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == "postgresql"
    )
    password = secret["stringData"]["POSTGRES_PASSWORD"]
    assert password != "<redacted>" and len(password) >= 16
    assert password not in render("--id", INSTANCE).stdout


def test_shared_data_servers_replace_the_namespaces_own(render: RenderFn) -> None:
    env = {
        "DEMO_DATABASE_PROVIDER": "postgres",
        "DEMO_POSTGRES_ADMIN_URL": "postgresql://admin:s3cret-admin@pg.data.svc.cluster.local:5433/postgres",
        "DEMO_REDIS_URL": "redis://admin:s3cret-redis@10.20.0.5:6379/0",
    }
    result = render("--id", INSTANCE, env=env)
    objects = result.objects
    workloads = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "StatefulSet"}
    assert workloads == {"rabbitmq"}  # no broker server configured: that one stays in the demo
    assert not any(obj["kind"] == "Job" for obj in objects)  # a template clone comes seeded
    policy = next(obj for obj in objects if obj["metadata"]["name"] == "allow-data-services")
    assert policy["spec"]["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}],
            "ports": [{"protocol": "TCP", "port": 5433}],
        },
        {
            "to": [{"ipBlock": {"cidr": "10.20.0.5/32"}}],
            "ports": [{"protocol": "TCP", "port": 6379}],
        },
    ]
    env_config = next(obj for obj in objects if obj["kind"] == "ConfigMap")
    assert env_config["data"]["REDIS_PREFIX"] == INSTANCE
    assert "s3cret" not in result.stdout
    assert tools.kubernetes_errors(objects) == []


def test_it_runs_from_an_installed_package_path(render: RenderFn) -> None:
    """DEMO_KUBERNETES_CHARTS points at the charts (as in the orchestrator image)."""
    env = {"DEMO_KUBERNETES_CHARTS": str(tools.ROOT / "charts")}
    assert render("--id", INSTANCE, env=env).returncode == 0
    missing = render("--id", INSTANCE, env={"DEMO_KUBERNETES_CHARTS": sys.prefix})
    assert missing.returncode != 0 and "DEMO_KUBERNETES_CHARTS" in missing.stderr


def test_the_ingress_wildcard_certificate_is_copied_into_the_demo(render: RenderFn) -> None:
    env = {"DEMO_KUBERNETES_ROUTE_KIND": "ingress", **INGRESS_TLS}
    shown = render("--id", INSTANCE, env=env, show_secrets=True).objects
    copy = next(
        obj for obj in shown if obj["kind"] == "Secret" and obj["type"] == "kubernetes.io/tls"
    )
    assert copy["metadata"]["annotations"]["demo-orchestrator/copied-from"] == (
        "demo-orchestrator/demos-wildcard-tls"
    )
    ingresses = [obj for obj in shown if obj["kind"] == "Ingress"]
    assert {i["spec"]["tls"][0]["secretName"] for i in ingresses} == {copy["metadata"]["name"]}
    assert DOMAIN in ingresses[0]["spec"]["rules"][0]["host"]


def test_a_chart_error_is_one_line_without_the_secrets(render: RenderFn, tmp_path: Path) -> None:
    """helm's error text is scrubbed of the demo's credentials before it is shown (or logged)."""
    from demo_orchestrator.providers.kubernetes.credentials import demo_credentials
    from tests.kubernetes.conftest import SECRET_KEY

    password = demo_credentials(INSTANCE, SECRET_KEY).postgres_password
    values = tmp_path / "breaks-the-chart.yaml"
    # The chart's values schema refuses the variable name and quotes it in its error.
    values.write_text(f"secretEnv:\n  {password}-NOT-A-NAME: x\n")
    result = render("--id", INSTANCE, "--values", str(values))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "values don't meet the specifications of the schema" in result.stderr
    assert "'***-NOT-A-NAME' does not match pattern" in result.stderr
    assert password not in result.stderr


def test_a_typo_in_a_values_file_is_refused(render: RenderFn, tmp_path: Path) -> None:
    values = tmp_path / "typo.yaml"
    values.write_text("routes:\n  knd: ingress\n")
    result = render("--id", INSTANCE, "--values", str(values))
    assert result.returncode == 1
    assert "at '/routes': additional properties 'knd' not allowed" in result.stderr


def test_a_missing_helm_is_named(render: RenderFn) -> None:
    result = render("--id", INSTANCE, env={"DEMO_KUBERNETES_HELM": "/nonexistent/helm"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: helm not found (/nonexistent/helm): install helm 4 or set DEMO_KUBERNETES_HELM"
    )
