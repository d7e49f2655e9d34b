from acct.tests.matrix import CLINICAL, DOCTOR_OR_RIB, RADIOLOGIST_ONLY, expect

JOB = "/api/ai/jobs/{ai_job}"


def _requester(request):
    return request.getfixturevalue("make_user")("RIB")


def a_job(request) -> str:
    """A QUEUED job requested by a radiology user who is none of the callers."""
    from ai.tests.factories import make_job

    return str(make_job(_requester(request)).pk)


def a_job_with_an_artifact(request) -> str:
    from ai.tests.factories import complete, make_job, put_artifact

    job = make_job(_requester(request))
    put_artifact(f"jobs/{job.pk}/seg.dcm", b"DICM", "application/dicom")
    return str(complete(job).pk)


def a_result(request) -> str:
    from ai.tests.factories import complete, make_job

    return str(complete(make_job(_requester(request))).result.pk)


def a_signed_result(request) -> str:
    from ai import services
    from ai.tests.factories import complete, make_job

    result = complete(make_job(_requester(request))).result
    radiologist = request.getfixturevalue("make_user")("RIB", "RADIOLOGIST")
    services.result_review(actor=radiologist, result=result, decision="approve", comment="matrix")
    return str(result.pk)


def an_ai_server(request) -> str:
    """Points AI_SERVER_URL at a stand-in answering GET /models; expands to nothing in the path."""
    from ai.tests.factories import serve_models

    server = serve_models()
    request.addfinalizer(server.server_close)
    request.addfinalizer(server.shutdown)
    request.getfixturevalue("settings").AI_SERVER_URL = f"http://127.0.0.1:{server.server_port}"
    return ""


PLACEHOLDERS = {
    "ai_job": a_job,
    "ai_artifact_job": a_job_with_an_artifact,
    "ai_result": a_result,
    "ai_signed_result": a_signed_result,
    "ai_server": an_ai_server,
}

ENTRIES = {
    "api/ai/jobs": [
        ("get", "/api/ai/jobs", None, CLINICAL),
        # no input: the roles that may submit pass the role check and get a validation error
        ("post", "/api/ai/jobs", {"model": "mri-lesion-demo"}, expect(403, anonymous=401, DOCTOR=400, RIB=400)),
    ],
    "api/ai/jobs/<uuid:pk>": [("get", JOB, None, CLINICAL)],
    # the requester or radiology staff: a doctor who did not ask for it is refused by the service
    "api/ai/jobs/<uuid:pk>/cancel": [("post", f"{JOB}/cancel", None, expect(403, anonymous=401, RIB=200))],
    "api/ai/jobs/<uuid:pk>/artifacts/<str:name>": [
        ("get", "/api/ai/jobs/{ai_artifact_job}/artifacts/seg", None, CLINICAL)
    ],
    "api/ai/results/<int:pk>/review": [
        (
            "post",
            "/api/ai/results/{ai_result}/review",
            {"decision": "approve", "comment": "matrix"},
            RADIOLOGIST_ONLY,  # radiographers (RIB alone) are refused
        )
    ],
    "api/ai/results/<int:pk>/amend": [
        (
            "post",
            "/api/ai/results/{ai_signed_result}/amend",
            {"reason": "matrix", "summary": "amended by the matrix"},
            RADIOLOGIST_ONLY,
        )
    ],
    "api/ai/worklist": [("get", "/api/ai/worklist", None, RADIOLOGIST_ONLY)],
    # an empty body (not multipart): allowed roles get past the role check to 415
    "api/ai/expression-uploads": [
        ("post", "/api/ai/expression-uploads", None, expect(403, anonymous=401, DOCTOR=415, RIB=415))
    ],
    "api/ai/models": [("get", "/api/ai/models?{ai_server}", None, DOCTOR_OR_RIB)],
    # whoever may read the patient's AI results; {puuid}: emr's placeholder, a patient in the cache
    "api/patients/<str:puuid>/tumour-course": [("get", "/api/patients/{puuid}/tumour-course", None, CLINICAL)],
    # measurement SRs ({radiology_study}: radiology's placeholder): whoever reads the study lists them; those
    # who read images clinically save them (an empty body passes the role check to 400)
    "api/radiology/studies/<int:pk>/measurements": [
        ("get", "/api/radiology/studies/{radiology_study}/measurements", None, CLINICAL),
        (
            "post",
            "/api/radiology/studies/{radiology_study}/measurements",
            {},
            expect(403, anonymous=401, DOCTOR=400, RIB=400),
        ),
    ],
}
