"""Routing rules on the running stack: a study a modality sends by C-STORE to Orthanc, imported by the
change feed, starts exactly one AI job through an enabled rule, and a later change of the study (one more
image) requests nothing new. Unique UIDs and a rule matching only this run's series description, so a
shared database with other rules and studies changes nothing. The rule asks for a second reader: its job
says so (two radiologists must approve the result)."""

import time
import uuid

import pytest
from rule_flow import MODALITY_AE, MODEL, VERSION, Stack, c_store, series

IMPORT_SECONDS = 90  # Orthanc's StableAge (10 s) + the change-feed beat (15 s), with room for a busy machine


@pytest.mark.timeout(400)
def test_a_c_stored_study_starts_exactly_one_job_through_a_rule(http, base_url, env, token_headers):
    stack = Stack(http, base_url, token_headers("admin"), token_headers("radiologist"))
    run = uuid.uuid4().hex[:10]
    rule = stack.rule_create(
        modality="MR", series_description=f"route-{run}$", sending_ae=MODALITY_AE, requires_second_reader=True
    )
    assert rule["requires_second_reader"] is True
    try:
        patient = stack.patient()
        datasets = series(patient["mrn"], f"AX FLAIR ROUTE-{run}", 3)
        uid = datasets[0].StudyInstanceUID
        c_store(env, datasets)

        study = stack.study(patient["emr_uuid"], uid, timeout=IMPORT_SECONDS)
        job = stack.first_job(study["id"], timeout=60)
        assert (job["requested_by"], job["model_name"], job["model_version"]) == ("routing-rules", MODEL, VERSION)
        assert job["second_reader_required"] is True
        why = stack.dry_run(rule["id"], study["id"])
        assert why["matches"] is True
        assert any(f"sending AE {MODALITY_AE} matches {MODALITY_AE}" in reason for reason in why["reasons"]), why

        # One more image of the same series: the study changes, the rules run again, nothing new is requested.
        more = series(
            patient["mrn"], f"AX FLAIR ROUTE-{run}", 1, study_uid=uid, series_uid=datasets[0].SeriesInstanceUID
        )
        c_store(env, more)
        stack.study(patient["emr_uuid"], uid, timeout=IMPORT_SECONDS, instances=4)
        time.sleep(10)  # the apply task follows the import through the outbox and the worker
        assert len(stack.jobs(study["id"])) == 1
    finally:
        stack.rule_delete(rule["id"])
