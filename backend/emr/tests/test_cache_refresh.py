"""The periodic patient-cache refresh against the OpenEMR stand-in over HTTP: a full pass in pages, then
only what the EMR changed since the high-water mark (FHIR `_lastUpdated`), bulk upserts, and a mark that
stays put when a run fails."""

import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from core.messaging import names
from core.models import OutboxMessage
from emr.clients import openemr_client
from emr.clients.openemr_client import get_openemr_client
from emr.models import CacheRefreshState, Patient
from emr.services import patient_cache_refresh

pytestmark = pytest.mark.django_db
EMR_USER = ("cdss-api", "cdss-api-password")


def emr_write(emr, method: str, path: str, body: dict) -> dict:
    """Change the EMR as a clinician would, through its Standard API with a write token."""
    from conftest import EMR_CLIENT

    token = requests.post(
        f"{emr.origin}/oauth2/default/token",
        data={
            "grant_type": "password", "user_role": "users", "username": EMR_USER[0], "password": EMR_USER[1],
            "client_id": EMR_CLIENT[0], "client_secret": EMR_CLIENT[1],
            "scope": "openid api:oemr user/patient.read user/patient.write",
        },
        timeout=5,
    ).json()["access_token"]  # fmt: skip
    response = requests.request(
        method,
        f"{emr.origin}/apis/default/api{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()["data"]


@pytest.fixture
def filled(emr):
    """A cache filled by a full pass, and a mark that starts now (changes made earlier in the session by
    other tests are then not "changed since")."""
    result = patient_cache_refresh(full=True)
    assert result.full and result.read == Patient.objects.count() >= 50
    # The EMR's _lastUpdated has whole seconds: start the mark in a new second, so a change another test made
    # in the second before does not count as "changed since" (seen in CI on a loaded machine).
    time.sleep(1.05 - timezone.now().microsecond / 1e6)
    CacheRefreshState.objects.filter(name="patients").update(changed_since=timezone.now().replace(microsecond=0))
    return Patient.objects.order_by("id")


def test_incremental_reads_a_change_and_a_new_patient_and_nothing_else(filled, emr):
    edited, untouched = filled[0], filled[1]
    emr_write(emr, "PUT", f"/patient/{edited.emr_uuid}", {"lname": "Incremental"})
    created = emr_write(
        emr, "POST", "/patient", {"fname": "New", "lname": "Arrival", "DOB": "1990-05-06", "sex": "Female"}
    )
    untouched_fetched = Patient.objects.get(pk=untouched.pk).fetched_at
    sync_before = OutboxMessage.objects.filter(target=names.FHIR_SYNC_TASK).count()

    result = patient_cache_refresh()

    assert not result.full and result.read == 2
    assert Patient.objects.get(pk=edited.pk).family_name == "Incremental"
    assert Patient.objects.get(emr_uuid=created["uuid"]).family_name == "Arrival"
    assert Patient.objects.get(pk=untouched.pk).fetched_at == untouched_fetched, "an unchanged patient was re-read"
    assert OutboxMessage.objects.filter(target=names.FHIR_SYNC_TASK).count() == sync_before + 2


def test_a_failed_run_keeps_the_mark_so_the_next_one_misses_nothing(filled, emr, settings):
    settings.EMR_REFRESH_OVERLAP_SECONDS = 0  # so the successful run's new mark is visibly later
    mark = CacheRefreshState.objects.get(name="patients").changed_since
    edited = filled[2]
    emr_write(emr, "PUT", f"/patient/{edited.emr_uuid}", {"fname": "AfterOutage"})
    requests.post(f"{emr.origin}/__control__/faults", json={"outage": True}, timeout=5).raise_for_status()
    with pytest.raises(Exception):  # noqa: B017 - whichever error the client raises for a 503
        patient_cache_refresh()
    assert CacheRefreshState.objects.get(name="patients").changed_since == mark
    requests.delete(f"{emr.origin}/__control__/faults", timeout=5).raise_for_status()

    result = patient_cache_refresh()

    assert not result.full and result.changed_since == mark and result.read >= 1
    assert Patient.objects.get(pk=edited.pk).given_name == "AfterOutage"
    assert CacheRefreshState.objects.get(name="patients").changed_since > mark


def test_changes_and_the_full_pass_are_read_in_pages(filled, emr, monkeypatch):
    changed = [p.emr_uuid for p in filled[3:8]]
    for puuid in changed:
        emr_write(emr, "PUT", f"/patient/{puuid}", {"title": "Dr"})
    monkeypatch.setattr(openemr_client, "PAGE_LIMIT", 2)
    since = CacheRefreshState.objects.get(name="patients").changed_since
    pages = list(get_openemr_client().iter_changed_patient_uuids(since))
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(uuid for page in pages for uuid in page) == sorted(changed)
    assert patient_cache_refresh().read == 5
    assert all(Patient.objects.get(emr_uuid=puuid).record["title"] == "Dr" for puuid in changed)
    full_pages = list(get_openemr_client().iter_patient_pages())
    assert {len(page) for page in full_pages[:-1]} == {2}
    assert sum(map(len, full_pages)) == Patient.objects.count()


def test_a_full_pass_comes_back_when_the_last_one_is_old(filled, settings):
    CacheRefreshState.objects.filter(name="patients").update(
        last_full_at=timezone.now() - timedelta(seconds=settings.EMR_FULL_REFRESH_INTERVAL_SECONDS + 60)
    )
    result = patient_cache_refresh()
    assert result.full and result.read == Patient.objects.count()
    assert patient_cache_refresh().full is False


def test_an_unchanged_page_queues_no_fhir_sync(filled):
    before = OutboxMessage.objects.filter(target=names.FHIR_SYNC_TASK).count()
    assert patient_cache_refresh(full=True).read == filled.count()
    assert OutboxMessage.objects.filter(target=names.FHIR_SYNC_TASK).count() == before
