"""Fixtures of the AI tests: the websocket pushes recorded instead of sent (clients per role: the root conftest)."""

import pytest


@pytest.fixture
def pushed(monkeypatch):
    """Every notify_users call of the AI services, as (user ids, payload); delivery itself is covered by
    notifications' own tests."""
    calls: list[tuple[list[int], dict]] = []
    monkeypatch.setattr("ai.services.notify_users", lambda users, payload: calls.append((sorted(users), payload)))
    return calls
