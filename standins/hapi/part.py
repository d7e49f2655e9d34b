"""What every part of the HAPI stand-in works with: the store, the clock, the settings and the base path."""

from __future__ import annotations

import uuid
from typing import Any

from ..common.messages import Request
from ..common.state import Clock, Settings
from ..common.store import Store
from .outcomes import instant


class Part:
    def __init__(self, store: Store, clock: Clock, settings: Settings, base_path: str):
        self.store, self.clock, self.settings, self.base_path = store, clock, settings, base_path

    def base(self, request: Request) -> str:
        return request.origin + self.base_path

    def bundle(
        self, kind: str, self_url: str, entries: list[dict], total: int | None = None, bundle_id: str = ""
    ) -> dict:
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": bundle_id or str(uuid.uuid4()),
            "meta": {"lastUpdated": instant(self.clock.now())},
            "type": kind,
        }
        if total is not None:
            bundle["total"] = total
        bundle["link"] = [{"relation": "self", "url": self_url}]
        if entries:
            bundle["entry"] = entries
        return bundle
