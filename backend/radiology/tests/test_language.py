"""The API answers in the language the web UI asks for (Accept-Language: ko or en; Korean without one):
the project's own messages (locale/ko) and DRF's alike, for a 404, a 409, a validation error, a
permission refusal and a missing sign-in."""

import pytest
from django.utils import translation
from rest_framework import exceptions, serializers
from rest_framework.test import APIClient

from radiology.services import order_create

pytestmark = pytest.mark.django_db

# The project's own messages, as the person reads them; {number} is the order's accession number.
OURS = {
    "en": {
        "missing": "No order 0.",
        "invalid": "order {number} is REQUESTED and cannot become COMPLETED (allowed: CANCELLED, SCHEDULED)",
        "refused": "Only doctors or radiology staff may do this.",
        "bad": "Invalid input.",
        "nowhere": "No such resource.",
    },
    "ko": {
        "missing": "오더 0이(가) 없습니다.",
        "invalid": "오더 {number}의 상태가 REQUESTED이므로 COMPLETED(으)로 바꿀 수 없습니다"
        "(허용: CANCELLED, SCHEDULED)",
        "refused": "의사 또는 영상의학과 직원만 이 작업을 할 수 있습니다.",
        "bad": "입력값이 올바르지 않습니다.",
        "nowhere": "해당 리소스가 없습니다.",
    },
}


def drf(language: str, message) -> str:
    """DRF's own message in `language`, from DRF's catalogue (its wording changes between releases)."""
    with translation.override(language):
        return str(message)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_every_kind_of_error_answers_in_the_language_asked_for(language, doctor, rib, nurse, make_patient):
    header = {"HTTP_ACCEPT_LANGUAGE": language}
    ours = OURS[language]
    order = order_create(actor=doctor.user, patient=make_patient(), modality="MR", body_part="BRAIN", reason="a")
    url = f"/api/radiology/orders/{order.pk}/transition"

    missing = nurse.get("/api/radiology/orders/0", **header)
    assert (missing.status_code, missing.json()["detail"]) == (404, ours["missing"])
    assert missing["Content-Language"] == language

    invalid = rib.post(url, {"status": "COMPLETED"}, format="json", **header)
    expected = ours["invalid"].format(number=order.accession_number)
    assert (invalid.status_code, invalid.json()["detail"]) == (409, expected)

    refused = nurse.post(url, {"status": "CANCELLED"}, format="json", **header)
    assert (refused.status_code, refused.json()["detail"]) == (403, ours["refused"])

    bad = rib.post(url, {}, format="json", **header)
    assert bad.status_code == 400
    assert bad.json()["detail"] == ours["bad"]
    assert bad.json()["fields"]["status"] == [drf(language, serializers.Field.default_error_messages["required"])]

    anonymous = APIClient().get("/api/radiology/orders", **header)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"] == drf(language, exceptions.NotAuthenticated.default_detail)


def test_without_accept_language_the_answer_is_korean(api_client):
    del api_client.defaults["HTTP_ACCEPT_LANGUAGE"]  # the suite's clients ask for English (conftest.py)
    nowhere = api_client.get("/api/no-such-thing")
    assert (nowhere.status_code, nowhere.json()["detail"]) == (404, OURS["ko"]["nowhere"])
    anonymous = api_client.get("/api/radiology/orders")
    assert anonymous.json()["detail"] == drf("ko", exceptions.NotAuthenticated.default_detail)
    assert anonymous.json()["detail"] != drf("en", exceptions.NotAuthenticated.default_detail)


@pytest.mark.parametrize(
    ("language", "empty", "unsafe"),
    [
        ("en", "empty file", "absolute path or '..' in the name: ignored"),
        ("ko", "빈 파일입니다", "이름에 절대 경로나 '..'가 있어 무시했습니다"),
    ],
)
def test_an_uploads_per_file_reasons_are_in_the_language_asked_for(rib, pacs, language, empty, unsafe):
    import io
    import zipfile

    from django.core.files.uploadedfile import SimpleUploadedFile

    from radiology.tests.conftest import upload

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.dcm", b"x")
    files = [
        SimpleUploadedFile("empty.dcm", b""),
        SimpleUploadedFile("bundle.zip", archive.getvalue(), content_type="application/zip"),
    ]
    response = upload(rib, *files, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    assert [result["reason"] for result in response.json()["results"]] == [empty, unsafe]
