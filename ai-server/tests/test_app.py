import pytest

from ai_server.app import create_app
from ai_server.config import Settings


@pytest.fixture
def client(settings, services):
    return create_app(settings, services).test_client()


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "cdss-ai-server"}


def test_ready_reports_models_device_and_broker(client, shipped_models):
    response = client.get("/ready")
    assert response.status_code == 200, response.get_json()
    checks = response.get_json()["checks"]
    assert len(checks["models"]["loaded"]) == len(shipped_models) > 0
    assert checks["device"]["type"] == "cpu"
    assert checks["broker"] == {"ok": True}


def test_not_ready_while_the_broker_is_away(settings, services):
    away = settings.model_copy(update={"rabbitmq_url": "amqp://guest:guest@127.0.0.1:1/%2F"})
    response = create_app(away, services).test_client().get("/ready")
    assert response.status_code == 503
    assert response.get_json()["checks"]["broker"]["ok"] is False


def test_not_ready_while_the_object_store_is_away(settings):
    away = settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:1"})
    client = create_app(away).test_client()
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["models"]["ok"] is False
    models = client.get("/models")
    assert models.status_code == 503
    assert "not loaded" in models.get_json()["error"]


def test_models_lists_each_shipped_model_with_its_card(client, shipped_models):
    models = client.get("/models").get_json()["models"]
    assert {m["name"] for m in models} == {path.parent.name for path in shipped_models}
    for model in models:
        assert len(model["sha256"]) == 64
        assert model["card"] and model["disclaimer"] and model["metrics"]
        assert model["task"] in ("segmentation", "omics-risk")


@pytest.mark.parametrize("header", [None, "Bearer wrong", "test-service-token"])
def test_infer_needs_the_service_token(client, header):
    headers = {"Authorization": header} if header else {}
    assert client.post("/infer", json={}, headers=headers).status_code == 401


def test_infer_is_refused_when_no_token_is_configured(settings, services):
    client = create_app(settings.model_copy(update={"service_token": ""}), services).test_client()
    assert client.post("/infer", json={}, headers={"Authorization": "Bearer "}).status_code == 401


def test_infer_reports_bad_jobs_as_failed(client):
    auth = {"Authorization": "Bearer test-service-token"}
    assert client.post("/infer", data="nope", headers=auth).status_code == 400
    response = client.post("/infer", json={"model": "no-such-model", "input": {}}, headers=auth)
    assert response.status_code == 422
    assert "unknown model 'no-such-model'" in response.get_json()["reason"]


def test_metrics_count_requests(client):
    client.get("/health")
    client.get("/nowhere")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'ai_server_http_requests_total{endpoint="/health",status="200"}' in body
    assert 'ai_server_http_requests_total{endpoint="unmatched",status="404"}' in body


def test_settings_refuse_an_unknown_device():
    with pytest.raises(ValueError, match="AI_DEVICE"):
        Settings(AI_DEVICE="tpu")
