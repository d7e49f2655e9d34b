"""Jobs, results and uploads in Django admin: listed with filters, never changed there."""

import pytest

from acct.testing import verified_login

from .factories import complete, make_job

pytestmark = pytest.mark.django_db


def test_admin_pages_are_read_only(client, make_user):
    job = complete(make_job(make_user("DOCTOR")))
    superuser = make_user("ADMIN", is_superuser=True, is_staff=True)
    verified_login(client, superuser)  # Django admin asks for the second factor
    assert client.get("/admin/ai/aijob/?status__exact=COMPLETED&task__exact=segmentation").status_code == 200
    page = client.get(f"/admin/ai/aijob/{job.pk}/change/")
    assert page.status_code == 200 and b"mri-lesion-demo" in page.content
    assert client.get("/admin/ai/aijob/add/").status_code == 403
    assert client.post(f"/admin/ai/aijob/{job.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/ai/airesult/?status__exact=PRELIMINARY").status_code == 200
    assert client.get(f"/admin/ai/airesult/{job.result.pk}/change/").status_code == 200
    assert client.get("/admin/ai/expressionupload/").status_code == 200
    job.refresh_from_db()
    assert job.status == "COMPLETED"
