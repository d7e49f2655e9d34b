from acct.tests.matrix import ADMIN_ONLY, expect

ADMIN_ACCEPTED = expect(403, anonymous=401, ADMIN=202)
LETTER = "/api/fhir/dead-letters/{dead_letter}"


def an_open_dead_letter(request) -> str:
    from fhir_sync.models import DeadLetter

    letter = DeadLetter.objects.create(
        entity_type="emr.patient", entity_id="1", resource_type="Patient", reason="HAPI-1094: test", http_status=400
    )
    return str(letter.pk)


PLACEHOLDERS = {"dead_letter": an_open_dead_letter}

ENTRIES = {
    "api/fhir/sync": [("post", "/api/fhir/sync", {"entity_type": "emr.patient", "entity_id": "1"}, ADMIN_ACCEPTED)],
    "api/fhir/dead-letters": [("get", "/api/fhir/dead-letters?status=open", None, ADMIN_ONLY)],
    "api/fhir/dead-letters/replay": [("post", "/api/fhir/dead-letters/replay", {"all": True}, ADMIN_ACCEPTED)],
    "api/fhir/dead-letters/<int:pk>": [("get", LETTER, None, ADMIN_ONLY)],
    "api/fhir/dead-letters/<int:pk>/replay": [("post", f"{LETTER}/replay", {}, ADMIN_ACCEPTED)],
    "api/fhir/dead-letters/<int:pk>/discard": [("post", f"{LETTER}/discard", {"reason": "test"}, ADMIN_ONLY)],
    "api/fhir/mappings": [("get", "/api/fhir/mappings", None, ADMIN_ONLY)],
}
