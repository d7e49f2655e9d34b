"""The OpenEMR stand-in as one server: its route table, the parts that answer them (oauth.py, patients.py,
clinical.py, fhir.py over records.py), its SQLite schema, seed and settings, and the command line."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from ..common.emulator import Emulator
from ..common.messages import Request, Response, json_response
from ..common.routing import Route
from ..common.serving import base_parser, serve
from ..common.store import Store
from .clinical import Clinical
from .fhir import FhirApi
from .oauth import OAuthServer
from .patients import Patients
from .records import Records
from .seed import records_by_kind, synthetic_records
from .shapes import API, FHIR, OAUTH

SCHEMA = """
CREATE TABLE IF NOT EXISTS record (  -- one row per OpenEMR row; `data` is what the API returns
    tbl TEXT NOT NULL, kind TEXT NOT NULL, id INTEGER NOT NULL, uuid TEXT NOT NULL UNIQUE, data TEXT NOT NULL,
    PRIMARY KEY (tbl, id));
CREATE TABLE IF NOT EXISTS client (
    client_id TEXT PRIMARY KEY, secret TEXT, enabled INTEGER NOT NULL, grant_types TEXT NOT NULL,
    scope TEXT NOT NULL, jwks TEXT, jwks_uri TEXT, registration TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS access_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, role TEXT NOT NULL, subject TEXT NOT NULL,
    scope TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS refresh_token (
    token TEXT PRIMARY KEY, client_id TEXT NOT NULL, role TEXT NOT NULL, subject TEXT NOT NULL,
    scope TEXT NOT NULL, expires REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS used_assertion (jti TEXT PRIMARY KEY, expires REAL NOT NULL);
"""

SETTING_CHECKS = {
    "password_grant": lambda v: v in {0, 1, 2, 3},
    "token_ttl_s": lambda v: v > 0,
    "client_credentials_ttl_s": lambda v: v > 0,
    "refresh_ttl_s": lambda v: v > 0,
}


class OpenEmrEmulator(Emulator):
    name = "openemr"

    def __init__(self, store: Store, settings: dict[str, Any], seed: int, patients: int, client: tuple[str, str]):
        super().__init__(store, settings, SETTING_CHECKS)
        self.seed_value, self.patient_count, self.configured_client = seed, patients, client
        self.records = Records(store)
        self.oauth = OAuthServer(store, self.clock, self.settings, self.records)
        patient_api, chart = Patients(self.records, self.clock), Clinical(self.records, self.clock)
        fhir_api = FhirApi(self.records, self.clock)
        oauth, api, fhir, uid = OAUTH, API, FHIR, r"[^/]+"
        add = self.router.add
        add("POST", f"{oauth}/registration", self.oauth.register)
        add("POST", f"{oauth}/token", self.oauth.token)
        add("POST", f"{oauth}/introspect", self.oauth.introspect)

        def standard(method: str, path: str, handler: Callable[..., Response], resource: str, action: str) -> None:
            add(method, f"{api}{path}", handler, api="oemr", resource=resource, action=action)

        standard("GET", "/patient", patient_api.patient_list, "patient", "s")
        standard("POST", "/patient", patient_api.patient_create, "patient", "c")
        standard("GET", f"/patient/(?P<puuid>{uid})", patient_api.patient_get, "patient", "r")
        standard("PUT", f"/patient/(?P<puuid>{uid})", patient_api.patient_update, "patient", "u")
        standard("GET", f"/patient/(?P<puuid>{uid})/encounter", partial(chart.list_of, "encounter"), "encounter", "s")
        standard("POST", f"/patient/(?P<puuid>{uid})/encounter", chart.encounter_create, "encounter", "c")
        standard(
            "GET",
            f"/patient/(?P<puuid>{uid})/encounter/(?P<ruuid>{uid})",
            partial(chart.one_of, "encounter"),
            "encounter",
            "r",
        )
        vitals = r"/patient/(?P<pid>\d+)/encounter/(?P<eid>\d+)/vital"
        standard("GET", vitals, partial(chart.list_of, "vital"), "vital", "s")
        standard("POST", vitals, partial(chart.child_create, "vital"), "vital", "c")
        standard("GET", rf"{vitals}/(?P<rid>\d+)", partial(chart.one_of, "vital"), "vital", "r")
        standard("PUT", rf"{vitals}/(?P<rid>\d+)", partial(chart.child_update, "vital"), "vital", "u")
        for kind in ("medical_problem", "allergy"):
            collection = f"/patient/(?P<puuid>{uid})/{kind}"
            standard("GET", collection, partial(chart.list_of, kind), kind, "s")
            standard("POST", collection, partial(chart.child_create, kind), kind, "c")
            standard("GET", f"{collection}/(?P<ruuid>{uid})", partial(chart.one_of, kind), kind, "r")
            standard("PUT", f"{collection}/(?P<ruuid>{uid})", partial(chart.child_update, kind), kind, "u")
            standard("GET", f"/{kind}", partial(chart.list_of, kind), kind, "s")
        medications = r"/patient/(?P<pid>\d+)/medication"
        standard("GET", medications, partial(chart.list_of, "medication"), "medication", "s")
        standard("POST", medications, partial(chart.child_create, "medication"), "medication", "c")
        standard("GET", rf"{medications}/(?P<rid>\d+)", partial(chart.one_of, "medication"), "medication", "r")
        standard("GET", "/prescription", partial(chart.list_of, "prescription"), "prescription", "s")
        standard("GET", f"/prescription/(?P<ruuid>{uid})", partial(chart.one_of, "prescription"), "prescription", "r")
        add("GET", f"{fhir}/metadata", fhir_api.metadata)
        add("GET", f"{fhir}/Patient", fhir_api.patient_search, api="fhir", resource="Patient", action="s")
        add(
            "GET",
            f"{fhir}/Patient/(?P<puuid>{uid})",
            fhir_api.patient_read,
            api="fhir",
            resource="Patient",
            action="r",
        )
        self.control.add("POST", "/__control__/patients", patient_api.bulk_add)
        self.control.add("GET", f"/__control__/clients/(?P<client_id>{uid})", self.oauth.admin_client)
        self.control.add("POST", f"/__control__/clients/(?P<client_id>{uid})", self.oauth.admin_client_update)

    def seed(self) -> None:
        for kind, row in records_by_kind(synthetic_records(self.seed_value, self.patient_count)):
            self.records.insert(kind, row)

    def open(self) -> None:
        """Seed on first use, then (re)register the client given on the command line."""
        super().open()
        client_id, secret = self.configured_client
        if client_id and secret:
            self.oauth.register_configured(client_id, secret)

    def error(self, status: int, message: str) -> Response:
        return json_response(status, {"error": "An error occurred", "message": message, "code": 0})

    def authorize(self, request: Request, route: Route, params: dict[str, str]) -> None:
        self.oauth.check_access(request, route.meta)


def main(argv: list[str] | None = None) -> None:
    parser = base_parser("OpenEMR Standard REST API stand-in (see standins/README.md).", default_port=8300)
    option, env = parser.add_argument, os.environ.get
    option("--seed", type=int, default=20260115, help="seed of the synthetic records (default 20260115)")
    option("--patients", type=int, default=64, help="number of synthetic patients (default 64)")
    option(
        "--password-grant",
        type=int,
        default=0,
        choices=[0, 1, 2, 3],
        help="global oauth_password_grant: 0 off (OpenEMR's default), 1 users, 2 patients, 3 both",
    )
    option(
        "--enforce-grant-types", action="store_true", help="newest master: a client may use only its registered grants"
    )
    option("--manual-approval", action="store_true", help="oauth_app_manual_approval: every new client starts disabled")
    option("--client-id", default=env("OPENEMR_EMULATOR_CLIENT_ID", ""), help="pre-registered enabled client")
    option("--client-secret", default=env("OPENEMR_EMULATOR_CLIENT_SECRET", ""), help="its secret")
    option("--username", default=env("OPENEMR_EMULATOR_USERNAME", "admin"), help="API user (default admin)")
    option("--password", default=env("OPENEMR_EMULATOR_PASSWORD", "pass"), help="its password (default pass)")
    option("--patient-password", default="pass", help="portal password of every seeded patient (default pass)")
    option("--token-ttl", type=int, default=3600, help="access token lifetime, seconds (default 3600)")
    option("--client-credentials-ttl", type=int, default=300, help="client_credentials token lifetime (default 300)")
    option("--refresh-ttl", type=int, default=90 * 86400, help="refresh token lifetime (default 3 months)")
    args = parser.parse_args(argv)
    settings = {
        "password_grant": args.password_grant,
        "enforce_grant_types": args.enforce_grant_types,
        "manual_approval": args.manual_approval,
        "username": args.username,
        "password": args.password,
        "patient_password": args.patient_password,
        "token_ttl_s": args.token_ttl,
        "client_credentials_ttl_s": args.client_credentials_ttl,
        "refresh_ttl_s": args.refresh_ttl,
    }
    client = (args.client_id, args.client_secret)
    emulator = OpenEmrEmulator(Store(args.data, SCHEMA), settings, args.seed, args.patients, client)
    serve(emulator, args.host, args.port)
