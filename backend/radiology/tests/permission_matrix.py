from acct.tests.matrix import CLINICAL, expect

STUDY = "/api/radiology/studies/{radiology_study}"
SERIES = f"{STUDY}/series/{{radiology_series}}"


def _study(request):
    """One uploaded study per test (shared by the placeholders of that test), deleted from Orthanc after."""
    if not hasattr(request.node, "_radiology_study"):
        from radiology.clients.orthanc_client import OrthancClient
        from radiology.services import study_sync
        from radiology.testing import series_instances, to_bytes

        orthanc = OrthancClient()
        stored = [orthanc.upload_instance(to_bytes(ds)) for ds in series_instances(2, description="AX FLAIR")]
        request.addfinalizer(lambda: orthanc.delete_study(stored[0].study_id))
        study, _ = study_sync(orthanc_study_id=stored[0].study_id, source="upload")
        request.node._radiology_study = (study, stored)
    return request.node._radiology_study


def a_study(request) -> str:
    return str(_study(request)[0].pk)


def a_series(request) -> str:
    return str(_study(request)[0].series.get().pk)


def an_instance(request) -> str:
    return _study(request)[1][0].instance_id


def a_study_uid(request) -> str:
    return _study(request)[0].study_instance_uid


def an_order(request) -> str:
    from django.utils import timezone

    from emr.models import Patient
    from radiology.services import order_create

    doctor = request.getfixturevalue("make_user")("DOCTOR")
    patient = Patient.objects.create(emr_uuid=f"matrix-{doctor.pk}", mrn=f"M{doctor.pk}", fetched_at=timezone.now())
    return str(order_create(actor=doctor, patient=patient, modality="MR", body_part="BRAIN", reason="matrix").pk)


PLACEHOLDERS = {
    "radiology_study": a_study,
    "radiology_series": a_series,
    "radiology_instance": an_instance,
    "radiology_study_uid": a_study_uid,
    "radiology_order": an_order,
}

ENTRIES = {
    "api/radiology/orders": [
        ("get", "/api/radiology/orders", None, CLINICAL),
        # an unknown patient: the doctor passes the role check and gets a validation error
        (
            "post",
            "/api/radiology/orders",
            {"patient": "nobody", "modality": "MR"},
            expect(403, anonymous=401, DOCTOR=400),
        ),
    ],
    "api/radiology/orders/<int:pk>": [("get", "/api/radiology/orders/{radiology_order}", None, CLINICAL)],
    "api/radiology/orders/<int:pk>/transition": [
        (
            "post",
            "/api/radiology/orders/{radiology_order}/transition",
            {"status": "CANCELLED"},
            # the order is another doctor's: only its ordering doctor (test_upload) or RIB may cancel it
            expect(403, anonymous=401, RIB=200),
        ),
    ],
    "api/radiology/studies": [("get", "/api/radiology/studies?modality=MR", None, CLINICAL)],
    "api/radiology/studies/<int:pk>": [("get", STUDY, None, CLINICAL)],
    # reconciliation: RIB decides (an empty body passes the role check to 400), ADMIN only reads
    "api/radiology/studies/<int:pk>/link": [("post", f"{STUDY}/link", {}, expect(403, anonymous=401, RIB=400))],
    "api/radiology/studies/<int:pk>/unlink": [("post", f"{STUDY}/unlink", {}, expect(403, anonymous=401, RIB=400))],
    "api/radiology/studies/<int:pk>/reject": [("post", f"{STUDY}/reject", {}, expect(403, anonymous=401, RIB=400))],
    "api/radiology/reconciliation": [
        ("get", "/api/radiology/reconciliation?status=CONFLICT", None, expect(403, anonymous=401, RIB=200, ADMIN=200))
    ],
    "api/radiology/reconciliation/<int:pk>": [
        ("get", "/api/radiology/reconciliation/{radiology_study}", None, expect(403, anonymous=401, RIB=200, ADMIN=200))
    ],
    "api/radiology/studies/<int:pk>/series/<int:series_pk>/thumbnail": [("get", f"{SERIES}/thumbnail", None, CLINICAL)],
    "api/radiology/studies/<int:pk>/series/<int:series_pk>/instances/<str:instance_id>/frames/<int:frame>/rendered": [
        ("get", f"{SERIES}/instances/{{radiology_instance}}/frames/0/rendered", None, CLINICAL)
    ],
    # an empty body (not multipart): allowed roles get past the role check to 415
    "api/radiology/uploads": [
        ("post", "/api/radiology/uploads", None, expect(403, anonymous=401, DOCTOR=415, RIB=415))
    ],
    # nginx's auth_request for the retrievals it serves straight from Orthanc (internal there: no route from outside)
    "api/radiology/dicom-web-auth": [
        (
            "get",
            "/api/radiology/dicom-web-auth?uri=/api/radiology/dicom-web/studies/{radiology_study_uid}/metadata",
            None,
            CLINICAL,
        ),
    ],
    "api/radiology/dicom-web/<path:path>": [
        ("get", "/api/radiology/dicom-web/studies?StudyInstanceUID={radiology_study_uid}", None, CLINICAL),
        ("get", "/api/radiology/dicom-web/studies/{radiology_study_uid}/metadata", None, CLINICAL),
        # STOW-RS is for radiology staff; a body that is not multipart/related is refused with 415
        ("post", "/api/radiology/dicom-web/studies", None, expect(403, anonymous=401, RIB=415)),
    ],
}
