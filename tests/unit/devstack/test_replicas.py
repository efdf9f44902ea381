"""`make up REPLICAS=n`: which ports each replica gets, and what the env file lists."""

from __future__ import annotations

import pytest

from deploy.devstack.profiles import load_profile, service_endpoints
from deploy.devstack.stack import stack_settings

SERVICE_PORT_VARIABLES = [f"AFTERCARE_{s}_PORT" for s in ("INTAKE", "SLA", "RELEASES", "NOTIFY")]


@pytest.fixture
def default_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SERVICE_PORT_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.usefixtures("default_ports")
def test_two_replicas_take_consecutive_ports_without_overlap() -> None:
    ports = {(s.process_name, s.port) for s in service_endpoints("AFTERCARE_", 2)}
    assert ports == {
        ("intake", 8001),
        ("intake-2", 8002),
        ("sla", 8003),
        ("sla-2", 8004),
        ("releases", 8005),
        ("releases-2", 8006),
        ("notify", 8007),
        ("notify-2", 8008),
    }


@pytest.mark.usefixtures("default_ports")
def test_one_replica_keeps_the_usual_ports() -> None:
    assert [s.port for s in service_endpoints("AFTERCARE_", 1)] == [8001, 8002, 8003, 8004]


@pytest.mark.usefixtures("default_ports")
def test_env_file_lists_every_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCARE_REPLICAS", "2")
    settings = stack_settings(load_profile("dev"), "x" * 32)
    assert settings["INTAKE_URL"] == "http://127.0.0.1:8001"
    assert settings["INTAKE_URLS"] == "http://127.0.0.1:8001,http://127.0.0.1:8002"
    assert settings["NOTIFY_URLS"] == "http://127.0.0.1:8007,http://127.0.0.1:8008"
    assert settings["AFTERCARE_REPLICAS"] == "2"


def test_clashing_ports_given_by_hand_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCARE_REPLICAS", "2")
    monkeypatch.setenv("AFTERCARE_INTAKE_PORT", "8401")
    monkeypatch.setenv("AFTERCARE_SLA_PORT", "8402")  # intake's second replica is on 8402
    with pytest.raises(Exception, match="8402"):
        load_profile("dev")


def test_a_bad_replica_count_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCARE_REPLICAS", "zero")
    with pytest.raises(Exception, match="replica count"):
        load_profile("dev")


@pytest.mark.usefixtures("default_ports")
def test_local_stacks_admit_loopback_for_webhooks_and_probes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOTIFY_SSRF_ALLOWLIST", raising=False)
    monkeypatch.setenv("INTAKE_PROBE_ALLOWLIST", "10.0.0.0/8")  # one given by hand wins
    for profile in ("dev", "test"):
        settings = stack_settings(load_profile(profile), "x" * 32)
        assert settings["NOTIFY_SSRF_ALLOWLIST"] == "127.0.0.0/8,::1/128"
        assert settings["INTAKE_PROBE_ALLOWLIST"] == "10.0.0.0/8"
