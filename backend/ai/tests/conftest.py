"""Fixtures of the AI tests: clients per role, and the websocket pushes recorded instead of sent."""

import pytest


@pytest.fixture
def doctor(token_client):
    return token_client("DOCTOR")


@pytest.fixture
def rib(token_client):
    return token_client("RIB")


@pytest.fixture
def nurse(token_client):
    return token_client("NURSE")


@pytest.fixture
def ops(token_client):
    return token_client("OPS")


@pytest.fixture
def pushed(monkeypatch):
    """Every notify_users call of the AI services, as (user ids, payload); delivery itself is covered by
    notifications' own tests."""
    calls: list[tuple[list[int], dict]] = []
    monkeypatch.setattr("ai.services.notify_users", lambda users, payload: calls.append((sorted(users), payload)))
    return calls
