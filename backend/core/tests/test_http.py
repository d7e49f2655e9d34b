"""The HTTP surface of the platform: probes, metrics, OpenAPI, admin."""

import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_health_needs_no_dependency(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_reports_each_dependency_with_latency(client):
    response = client.get("/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready" and body["down"] == []
    for name in ("database", "redis", "rabbitmq", "orthanc", "object_storage"):
        assert body["checks"][name]["status"] == "up"
        assert body["checks"][name]["latency_ms"] >= 0
    for name in ("fhir", "emr"):  # slots, filled by the external-systems issue
        assert body["checks"][name]["status"] in {"up", "not_configured"}


@pytest.mark.django_db
def test_ready_names_orthanc_when_its_credentials_are_wrong(client, settings):
    settings.ORTHANC_PASSWORD = "wrong"
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json()["down"] == ["orthanc"]
    assert "401" in response.json()["checks"]["orthanc"]["detail"]


@pytest.mark.django_db
def test_metrics_are_exposed_for_prometheus(client):
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "django_http_requests_before_middlewares_total" in response.content.decode()


@pytest.mark.django_db
def test_openapi_schema_and_docs_render_without_a_cdn(client):
    schema = client.get("/api/schema")
    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn." not in html


@pytest.mark.django_db
def test_admin_login_works(client):
    from acct.testing import code_for, totp_device

    root = get_user_model().objects.create_superuser(username="root-admin", password="a-long-demo-password")
    form = {"username": "root-admin", "password": "a-long-demo-password", "otp_token": code_for(totp_device(root))}
    response = client.post("/admin/login/?next=/admin/", form)  # with the second factor (acct/admin.py)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert b"Accounts" in client.get("/admin/").content
