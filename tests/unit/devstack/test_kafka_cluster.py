"""`make up KAFKA_BROKERS=3`: which ports each node gets, what the env file lists, and that
the three stacks' clusters never take each other's ports."""

from __future__ import annotations

import pytest

from deploy.devstack.profiles import (
    PROFILE_NAMES,
    claimed_ports,
    load_profile,
    refuse_clashes_with_other_stacks,
)
from deploy.devstack.stack import stack_settings

PORT_SETTINGS = [
    f"AFTERCARE_{prefix}{name}"
    for prefix in ("", "TEST_", "BENCH_")
    for name in ("PG_PORT", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_BOOTSTRAP_SERVERS")
] + [f"AFTERCARE_{s}_PORT" for s in ("INTAKE", "SLA", "RELEASES", "NOTIFY")]


@pytest.fixture
def three_brokers_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make up KAFKA_BROKERS=3` exports, with every port at its default."""
    for variable in PORT_SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    for prefix in ("", "TEST_", "BENCH_"):
        monkeypatch.setenv(f"AFTERCARE_{prefix}KAFKA_BROKERS", "3")


@pytest.mark.usefixtures("three_brokers_everywhere")
def test_nodes_take_every_other_port_from_the_configured_ones() -> None:
    nodes = load_profile("dev").kafka_nodes
    assert [(n.process_name, n.port, n.controller_port) for n in nodes] == [
        ("kafka", 19092, 19093),
        ("kafka-2", 19094, 19095),
        ("kafka-3", 19096, 19097),
    ]


@pytest.mark.usefixtures("three_brokers_everywhere")
def test_env_file_lists_every_broker_and_the_cluster_replication() -> None:
    settings = stack_settings(load_profile("test"), "x" * 32)
    assert settings["AFTERCARE_KAFKA_BOOTSTRAP_SERVERS"] == (
        "127.0.0.1:19192,127.0.0.1:19194,127.0.0.1:19196"
    )
    assert settings["AFTERCARE_TEST_KAFKA_BROKERS"] == "3"
    assert settings["AFTERCARE_TOPIC_REPLICATION_FACTOR"] == "3"
    assert settings["AFTERCARE_TOPIC_MIN_INSYNC_REPLICAS"] == "2"


@pytest.mark.usefixtures("three_brokers_everywhere")
def test_the_three_stacks_clusters_do_not_overlap_with_default_ports() -> None:
    claimed = [set(claimed_ports(load_profile(name))) for name in PROFILE_NAMES]
    for index, ports in enumerate(claimed):
        for other in claimed[index + 1 :]:
            assert not ports & other
    for name in PROFILE_NAMES:
        refuse_clashes_with_other_stacks(load_profile(name))


@pytest.mark.usefixtures("three_brokers_everywhere")
def test_a_cluster_reaching_another_stacks_kafka_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERCARE_KAFKA_PORT", "19188")  # nodes 19188, 19190, 19192
    monkeypatch.setenv("AFTERCARE_KAFKA_CONTROLLER_PORT", "19189")
    with pytest.raises(Exception, match=r"19192.*test stack"):
        refuse_clashes_with_other_stacks(load_profile("dev"))


def test_one_broker_keeps_the_single_node_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (
        "AFTERCARE_KAFKA_BROKERS",
        "AFTERCARE_KAFKA_PORT",
        "AFTERCARE_KAFKA_BOOTSTRAP_SERVERS",
    ):
        monkeypatch.delenv(variable, raising=False)
    profile = load_profile("dev")
    assert profile.kafka_bootstrap == "127.0.0.1:19092"
    settings = stack_settings(profile, "x" * 32)
    assert "AFTERCARE_TOPIC_REPLICATION_FACTOR" not in settings
    assert "AFTERCARE_KAFKA_BROKERS" not in settings


def test_a_bad_broker_count_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCARE_KAFKA_BROKERS", "many")
    with pytest.raises(Exception, match="broker count"):
        load_profile("dev")
