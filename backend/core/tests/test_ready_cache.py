"""/ready serves one run of the dependency checks for READINESS_CACHE_SECONDS (per process), down or up
alike, so probes cannot hammer the dependencies. Real checks against the real servers throughout; a wrong
Orthanc password is the dependency going away."""

import threading
import time

import pytest

from core.health import cached_checks, forget_cached_checks


@pytest.fixture
def cache_for(settings):
    def set_ttl(seconds: float) -> None:
        settings.READINESS_CACHE_SECONDS = seconds
        forget_cached_checks()

    yield set_ttl
    forget_cached_checks()


@pytest.mark.django_db
def test_a_result_is_served_again_until_it_is_older_than_the_setting(client, settings, cache_for):
    cache_for(1.0)
    first = client.get("/ready")
    assert first.status_code == 200 and first["Age"] == "0"

    settings.ORTHANC_PASSWORD = "wrong"  # Orthanc now refuses us, but the cached run still stands
    again = client.get("/ready")
    assert again.status_code == 200 and again.json() == first.json()

    time.sleep(1.1)
    fresh = client.get("/ready")
    assert fresh.status_code == 503 and fresh.json()["down"] == ["orthanc"]
    assert fresh["Age"] == "0"


@pytest.mark.django_db
def test_a_down_result_is_cached_too_and_recovery_shows_after_it(client, settings, cache_for):
    cache_for(1.0)
    password = settings.ORTHANC_PASSWORD
    settings.ORTHANC_PASSWORD = "wrong"
    assert client.get("/ready").status_code == 503

    settings.ORTHANC_PASSWORD = password  # back, but probes keep the cached answer for the setting's time
    assert client.get("/ready").json()["down"] == ["orthanc"]
    time.sleep(1.1)
    assert client.get("/ready").status_code == 200


@pytest.mark.django_db
def test_no_cache_when_the_setting_is_zero(client, settings, cache_for):
    cache_for(0)
    assert client.get("/ready").status_code == 200
    settings.ORTHANC_PASSWORD = "wrong"
    assert client.get("/ready").status_code == 503


@pytest.mark.django_db(transaction=True)
def test_concurrent_probes_share_one_run(cache_for):
    cache_for(30.0)
    start = threading.Barrier(8)
    seen = []

    def probe() -> None:
        start.wait()
        seen.append(cached_checks()[0])

    threads = [threading.Thread(target=probe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == 8
    assert all(results is seen[0] for results in seen), "more than one run of the checks"
    assert {result.name for result in seen[0]} >= {"database", "redis", "rabbitmq", "orthanc", "object_storage"}
