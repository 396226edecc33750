"""The pure pieces of the kubernetes package, one rule at a time: where demos may connect,
which TLS an Ingress gets, how credentials are made and hidden."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_orchestrator.domain.errors import PermanentError
from demo_orchestrator.providers.kubernetes.credentials import demo_credentials
from demo_orchestrator.providers.kubernetes.egress import data_egress_rules
from demo_orchestrator.providers.kubernetes.redaction import REDACTED, redact
from demo_orchestrator.providers.kubernetes.routes import route_values
from demo_orchestrator.providers.kubernetes.settings import KubernetesSettings, SharedDataServers


def servers(**values: str) -> SharedDataServers:
    return SharedDataServers.model_validate(values)


def settings(**values: object) -> KubernetesSettings:
    return KubernetesSettings.model_validate(values)


@pytest.mark.parametrize(
    ("url", "peer", "port"),
    [
        ("redis://u:p@10.1.2.3/0", {"ipBlock": {"cidr": "10.1.2.3/32"}}, 6379),
        ("redis://u:p@[fd00::7]:6380/0", {"ipBlock": {"cidr": "fd00::7/128"}}, 6380),
        (
            "redis://u:p@redis.cache.svc:6379/0",
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cache"}}},
            6379,
        ),
        (
            "redis://u:p@redis.cache.svc.cluster.local./0",
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cache"}}},
            6379,
        ),
    ],
)
def test_a_data_server_is_reached_by_ip_or_namespace(url: str, peer: dict, port: int) -> None:
    rules = data_egress_rules(servers(DEMO_REDIS_URL=url), settings())
    assert rules == [{"to": [peer], "ports": [{"protocol": "TCP", "port": port}]}]


def test_no_shared_server_opens_nothing() -> None:
    # sqlite (the embedded default) and a postgres URL without the postgres provider: no egress.
    assert data_egress_rules(servers(), settings()) == []
    unused = servers(DEMO_POSTGRES_ADMIN_URL="postgresql://a:b@10.0.0.1/postgres")
    assert data_egress_rules(unused, settings()) == []


def test_a_host_name_outside_the_cluster_needs_explicit_cidrs() -> None:
    external = servers(DEMO_RABBITMQ_URL="amqp://u:p@mq.example.net:5671/")
    with pytest.raises(PermanentError, match="DEMO_KUBERNETES_EGRESS_CIDRS"):
        data_egress_rules(external, settings())
    rules = data_egress_rules(external, settings(egress_cidrs=["203.0.113.0/24"]))
    assert rules[0] == {
        "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
        "ports": [{"protocol": "TCP", "port": 5671}],
    }


def test_egress_cidrs_must_be_cidr_blocks() -> None:
    with pytest.raises(ValueError, match="not a CIDR block"):
        settings(egress_cidrs=["db.example.net"])


def test_supabase_demos_need_cidrs_and_get_only_its_ports() -> None:
    supabase = servers(DEMO_DATABASE_PROVIDER="supabase")
    with pytest.raises(PermanentError, match="supabase"):
        data_egress_rules(supabase, settings())
    rules = data_egress_rules(supabase, settings(egress_cidrs=["198.51.100.0/24"]))
    assert [p["port"] for p in rules[0]["ports"]] == [443, 5432, 6543]


def test_ingress_tls_comes_from_cert_manager_first_then_the_wildcard() -> None:
    both = settings(route_kind="ingress", cluster_issuer="le", tls_secret="wild")
    assert route_values(both)["ingress"] == {
        "className": "",
        "clusterIssuer": "le",
        "tlsSecret": "",
    }
    wildcard = settings(route_kind="ingress", tls_secret="wild", ingress_class="nginx")
    assert route_values(wildcard)["ingress"] == {
        "className": "nginx",
        "clusterIssuer": "",
        "tlsSecret": "demo-wildcard-tls",
    }
    with pytest.raises(PermanentError, match="needs TLS"):
        route_values(settings(route_kind="ingress"))


def test_the_gateway_setting_is_namespace_and_name() -> None:
    values = route_values(settings(gateway="edge/public", gateway_listener="https-demos"))
    assert values["gateway"] == {
        "namespace": "edge",
        "name": "public",
        "sectionName": "https-demos",
    }
    with pytest.raises(ValueError, match="<namespace>/<name>"):
        settings(gateway="public")


def test_credentials_are_derived_per_demo_or_random_without_a_key() -> None:
    one = demo_credentials("demo-aaaaaa", "a-key-of-some-length")
    assert one == demo_credentials("demo-aaaaaa", "a-key-of-some-length")
    assert one != demo_credentials("demo-bbbbbb", "a-key-of-some-length")
    assert len(set(one.values())) == 4
    assert demo_credentials("demo-aaaaaa", None) != demo_credentials("demo-aaaaaa", None)


def test_redaction_hides_every_secret_value_and_nothing_else() -> None:
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA=="},
              "stringData": {"b": "pw"}}  # fmt: skip
    config = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "visible"}}
    hidden, shown = redact([secret, config])
    assert hidden["data"] == {"a": REDACTED} and hidden["stringData"] == {"b": REDACTED}
    assert shown == config and secret["stringData"] == {"b": "pw"}  # the input is untouched


def test_helm_is_found_beside_python_when_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make install` puts helm in .venv/bin; an unactivated `.venv/bin/democtl` still finds it."""
    import sys

    from demo_orchestrator.providers.kubernetes.chart import helm_binary

    beside = tmp_path / "bin"
    beside.mkdir()
    (beside / "helm").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "executable", str(beside / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert helm_binary("helm") == str(beside / "helm")
    assert helm_binary("/opt/helm4/helm") == "/opt/helm4/helm"  # a path is taken as given
    (beside / "helm").unlink()
    assert helm_binary("helm") == "helm"  # nothing found: the name, so the error names it
