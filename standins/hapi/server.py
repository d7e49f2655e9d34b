"""The HAPI FHIR stand-in as one server: its route table over the parts that answer it (reads.py, search.py,
writes.py, bundles.py, gateway.py over versions.py), its SQLite schema and settings, and the command line."""

from __future__ import annotations

import os
import re
from typing import Any

from ..common.emulator import Emulator
from ..common.messages import Request, Response
from ..common.routing import Route
from ..common.serving import base_parser, serve
from ..common.store import Store
from .bundles import Bundles
from .gateway import Gateway
from .outcomes import fhir_json, operation_outcome
from .r4 import known_type
from .reads import Reads
from .search import Search
from .versions import Versions
from .writes import Writes

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: search results come back in it, as in HAPI
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    updated REAL NOT NULL, body TEXT, UNIQUE (type, id));
CREATE TABLE IF NOT EXISTS resource_version (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL,
    updated REAL NOT NULL, body TEXT, PRIMARY KEY (type, id, version));
CREATE TABLE IF NOT EXISTS token_index (type TEXT, id TEXT, param TEXT, system TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS token_lookup ON token_index (type, param, value);
CREATE TABLE IF NOT EXISTS reference_index (type TEXT, id TEXT, path TEXT, target_type TEXT, target_id TEXT);
CREATE INDEX IF NOT EXISTS reference_target ON reference_index (target_type, target_id);
CREATE TABLE IF NOT EXISTS search (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, cache_key TEXT NOT NULL, created REAL NOT NULL, matches TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS server_id (pid INTEGER PRIMARY KEY AUTOINCREMENT);
CREATE TABLE IF NOT EXISTS access_token (token TEXT PRIMARY KEY, client_id TEXT, scope TEXT, expires REAL);
"""

SETTING_CHECKS = {
    "client_id_strategy": lambda v: v in {"ALPHANUMERIC", "ANY", "NOT_ALLOWED"},
    "token_ttl_s": lambda v: v > 0,
    "default_page_size": lambda v: v > 0,
    "search_cache_ms": lambda v: v >= 0,
    "search_retain_s": lambda v: v >= 0,
    "max_bundle_size": lambda v: v >= 0,
}


class HapiEmulator(Emulator):
    name = "hapi"

    def __init__(self, store: Store, settings: dict[str, Any], base_path: str = "/fhir"):
        super().__init__(store, settings, SETTING_CHECKS)
        self.base_path = base_path.rstrip("/")
        shared = (store, self.clock, self.settings, self.base_path)
        versions = Versions(*shared)
        self.gateway = Gateway(*shared)
        search = Search(*shared, versions, self.gateway)
        writes = Writes(*shared, versions, search)
        bundles = Bundles(*shared, (versions, self.gateway, search, writes), self.router)
        reads = Reads(*shared, versions)
        base, rtype, rid = re.escape(self.base_path), r"(?P<rtype>[A-Za-z]+)", r"(?P<rid>[^/]+)"
        add = self.router.add
        add("POST", "/oauth/token", self.gateway.token, public=True)
        add("GET", f"{base}/metadata", reads.capabilities, public=True)
        add("GET", f"{base}/?", search.page)
        add("POST", f"{base}/?", bundles.transaction)
        add("GET", f"{base}/{rtype}", search.search, permission="s")
        add("POST", f"{base}/{rtype}", writes.create, permission="c")
        add("PUT", f"{base}/{rtype}", writes.conditional_update, permission="u")
        add("DELETE", f"{base}/{rtype}", writes.conditional_delete, permission="d")
        add("GET", f"{base}/{rtype}/{rid}", reads.read, permission="r")
        add("PUT", f"{base}/{rtype}/{rid}", writes.update, permission="u")
        add("DELETE", f"{base}/{rtype}/{rid}", writes.delete, permission="d")
        add("GET", f"{base}/{rtype}/{rid}/_history", reads.history, permission="r")
        add("GET", f"{base}/{rtype}/{rid}/_history/(?P<vid>[^/]+)", reads.vread, permission="r")

    def error(self, status: int, message: str) -> Response:
        return fhir_json(status, operation_outcome("error", "processing", message))

    def authorize(self, request: Request, route: Route, params: dict[str, str]) -> None:
        """Unknown resource types are 404 before anything else; then the bearer check, when auth is on."""
        if "rtype" in params:
            known_type(params["rtype"])
        if not route.meta.get("public"):
            self.gateway.require(request, params.get("rtype"), route.meta.get("permission"))


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("HAPI FHIR R4 JPA server stand-in (see standins/README.md).", default_port=8080)
    option = parser.add_argument
    option("--base-path", default="/fhir", help="FHIR base path (default /fhir)")
    option("--auth", action="store_true", help="require OAuth2 bearer tokens (stock HAPI has no auth)")
    env = os.environ.get
    option(
        "--client-id", default=env("HAPI_EMULATOR_CLIENT_ID", ""), help="OAuth2 client (env HAPI_EMULATOR_CLIENT_ID)"
    )
    option(
        "--client-secret",
        default=env("HAPI_EMULATOR_CLIENT_SECRET", ""),
        help="OAuth2 client secret (env HAPI_EMULATOR_CLIENT_SECRET)",
    )
    option("--token-ttl", type=int, default=300, help="access token lifetime in seconds (default 300)")
    option("--validate", action="store_true", help="answer 422 for resources missing A.16 required elements")
    option("--no-referential-integrity", action="store_true", help="accept dangling references (A.12)")
    option("--allow-external-references", action="store_true", help="accept absolute references to other servers")
    option("--client-id-strategy", default="ALPHANUMERIC", choices=["ALPHANUMERIC", "ANY", "NOT_ALLOWED"])
    option("--page-size", type=int, default=20, help="searchset page size without _count (default 20)")
    option("--search-cache-ms", type=int, default=60_000, help="identical searches reuse results (0 = off)")
    option("--search-retain-s", type=int, default=3600, help="how long _getpages links stay valid (default 3600)")
    option(
        "--max-bundle-size",
        type=int,
        default=0,
        help="most entries a transaction/batch may hold, else 413 HAPI-0528 (default 0 = no limit, as in HAPI)",
    )
    args = parser.parse_args(argv)
    if args.auth and not (args.client_id and args.client_secret):
        parser.error("--auth needs --client-id and --client-secret (or their environment variables)")
    settings = {
        "auth": args.auth,
        "client_id": args.client_id,
        "client_secret": args.client_secret,
        "token_ttl_s": args.token_ttl,
        "validate": args.validate,
        "referential_integrity": not args.no_referential_integrity,
        "allow_external_references": args.allow_external_references,
        "client_id_strategy": args.client_id_strategy,
        "default_page_size": args.page_size,
        "search_cache_ms": args.search_cache_ms,
        "search_retain_s": args.search_retain_s,
        "max_bundle_size": args.max_bundle_size,
    }
    serve(HapiEmulator(Store(args.data, SCHEMA), settings, args.base_path), args.host, args.port)
