"""The worker's instance id (static group membership): its default and its bounds."""

from __future__ import annotations

import socket

import pytest

from app.config import default_instance_id, load_settings
from app.errors import SettingsError
from app.stream.kafka import faust_membership, membership


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DRIFTLINE_INSTANCE_ID",
        "DRIFTLINE_WEB_PORT",
        "DRIFTLINE_SESSION_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)


def test_the_default_instance_id_is_the_host_name_and_the_web_port() -> None:
    settings = load_settings(web_port=7001)
    assert settings.instance_id == f"{socket.gethostname()}-7001"
    assert load_settings(web_port=7002).instance_id != settings.instance_id


def test_a_host_name_kafka_would_refuse_is_made_into_a_valid_id() -> None:
    assert default_instance_id("my host/ü", 6066) == "my-host---6066"
    assert default_instance_id("", 6066) == "driftline-6066"


def test_a_given_instance_id_is_used_as_is() -> None:
    assert load_settings(instance_id="worker-a.1_x", web_port=7001).instance_id == "worker-a.1_x"


def test_an_instance_id_kafka_would_refuse_is_one_settings_error() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(instance_id="worker a")
    assert str(err.value) == (
        "--instance-id='worker a': expected 1 to 249 characters of A-Z, a-z, 0-9, '.', '_' or '-'"
    )


def test_both_groups_join_with_the_instance_id_and_the_session_timeout() -> None:
    settings = load_settings(instance_id="w-1", session_timeout_seconds=20)
    assert membership(settings) == {
        "group_instance_id": "w-1",
        "session_timeout_ms": 20_000,
        "heartbeat_interval_ms": 250,
    }
    assert faust_membership(settings) == {
        "consumer_group_instance_id": "w-1",
        "canonical_url": "http://w-1",
        "broker_session_timeout": 20.0,
        "broker_heartbeat_interval": 0.25,
    }


def test_a_session_timeout_below_the_brokers_minimum_is_refused() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(session_timeout_seconds=5)
    assert str(err.value) == "--session-timeout-seconds=5: expected an integer from 6 to 300"


def test_metrics_feature_statistics_are_a_list_of_window_result_keys_or_all() -> None:
    assert load_settings().exported_statistics() == {
        "ks_pvalue", "chi2_pvalue", "psi", "wasserstein", "null_rate"
    }  # fmt: skip
    assert load_settings(metrics_feature_statistics=" psi, js ").exported_statistics() == {
        "psi", "js"
    }  # fmt: skip
    assert "chi2" in load_settings(metrics_feature_statistics="all").exported_statistics()
    with pytest.raises(SettingsError) as err:
        load_settings(metrics_feature_statistics="psi,chi2_dof")
    assert str(err.value).startswith(
        "--metrics-feature-statistics='psi,chi2_dof': unknown statistic 'chi2_dof'; expected"
    )


def test_the_log_format_is_text_or_json() -> None:
    assert load_settings().log_format == "text"
    assert load_settings(log_format="json").log_format == "json"
    with pytest.raises(SettingsError) as err:
        load_settings(log_format="xml")
    assert str(err.value) == "--log-format='xml': expected text or json"
