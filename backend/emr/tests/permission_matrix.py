from acct.tests.matrix import CLINICAL

PATIENT = "/api/patients/{puuid}"


def a_cached_patient(request) -> str:
    """A patient of the OpenEMR stand-in, fresh in the cache, so detail reads need no EMR call."""
    request.getfixturevalue("emr")
    from emr.clients.openemr_client import get_openemr_client
    from emr.services import patient_upsert_from_emr

    records, _ = get_openemr_client().search_patients(limit=1)
    return patient_upsert_from_emr(records[0]).emr_uuid


PLACEHOLDERS = {"puuid": a_cached_patient}

ENTRIES = {
    "api/patients": [("get", "/api/patients?q=a", None, CLINICAL)],
    "api/patients/<str:puuid>": [("get", PATIENT, None, CLINICAL)],
    "api/patients/<str:puuid>/timeline": [("get", f"{PATIENT}/timeline", None, CLINICAL)],
    **{
        f"api/patients/<str:puuid>/{section}": [("get", f"{PATIENT}/{section}", None, CLINICAL)]
        for section in ("encounters", "problems", "medications", "prescriptions", "allergies", "vitals")
    },
}
