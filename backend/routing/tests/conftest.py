"""Fixtures of the routing tests: an ADMIN client, rules, studies (rows only, or in the real Orthanc through
radiology's fixtures) and a stand-in for the ai-server's model list."""

import pytest

from radiology.tests.conftest import make_patient, pacs  # noqa: F401 - the real Orthanc, tidied after each test


@pytest.fixture
def admin(token_client):
    return token_client("ADMIN")


@pytest.fixture
def make_rule(db):
    from routing import services

    def make(actor=None, **fields):
        values = {"name": f"rule-{services.RoutingRule.objects.count() + 1}", "model_name": "mri-lesion-demo",
                  "model_version": "1.0.0", **fields}  # fmt: skip
        return services.rule_create(actor=actor, **values)

    return make


@pytest.fixture
def ai_server(settings):
    """GET /models answers mri-lesion-demo 1.0.0 (ai.tests.factories.MODELS)."""
    from ai.tests.factories import serve_models

    server = serve_models()
    settings.AI_SERVER_URL = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()
