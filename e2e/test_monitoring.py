"""Monitoring, live: a private Prometheus and Alertmanager (rendered from monitoring/ like the local run's)
scrape the running stack; every target is up, every dashboard panel query and every rule expression
executes, the key series have data, and a critical alert travels to the on-call webhook, by e-mail (a
local SMTP sink) and to the messenger webhook."""

import email
import json
import os
import re
import shutil
import socket
import socketserver
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / "backend" / ".venv" / "bin" / "python"
DASHBOARDS = sorted((ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json"))
RULE_FILES = sorted((ROOT / "monitoring" / "rules").glob("*.yml"))
# Grafana's built-in variables, as Grafana would fill them for a 6-hour view.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h"}

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = predicate()
        except requests.RequestException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


class Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Webhook.received.append(
            {"path": self.path, "auth": self.headers.get("Authorization", ""), "body": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP to take a message (no TLS, no AUTH offered), as a hospital's relay would."""

    received: list = []

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self):
        self.reply("220 sink ESMTP")
        envelope = {"to": []}
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                envelope = {"from": command, "to": []}
                self.reply("250 OK")
            elif verb == "RCPT":
                envelope["to"].append(command)
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = b"".join(iter(lambda: self.rfile.readline(), b".\r\n"))
                envelope["message"] = email.message_from_bytes(data)
                envelope["at"] = time.time()
                SmtpSink.received.append(envelope)
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture(scope="module")
def monitoring(env, tmp_path_factory):
    """Prometheus (2 s scrapes) and Alertmanager on private ports, a webhook receiver and an SMTP sink."""
    work = tmp_path_factory.mktemp("monitoring")
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpSink)
    threading.Thread(target=smtp.serve_forever, daemon=True).start()
    prom_port, am_port = free_port(), free_port()
    extra = work / "e2e-rules.yml"
    extra.write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "e2e",
                        "rules": [
                            {
                                "alert": "E2ECodeBlue",
                                "expr": 'up{job="django"} == 1',
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "end-to-end check of the code-blue route"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    child_env = {
        **os.environ,
        **env,
        "ALERT_SMTP_SMARTHOST": f"127.0.0.1:{smtp.server_address[1]}",
        "ALERT_SMTP_REQUIRE_TLS": "false",
        "ALERT_SMTP_USERNAME": "",
        "ALERT_EMAIL_FROM": "cdss-alerts@example.org",
        "ALERT_EMAIL_TO": "oncall@example.org, radiology-it@example.org",
        "ALERT_MESSENGER_WEBHOOK_URL": f"http://127.0.0.1:{hook.server_port}/messenger",
    }
    standins = ROOT / "var" / "run" / "standins.env"
    if standins.exists():
        for line in standins.read_text().splitlines():
            key, _, value = line.partition("=")
            child_env[key] = value
    subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [
            PYTHON,
            ROOT / "monitoring" / "render_local.py",
            work,
            "--prometheus-port",
            str(prom_port),
            "--alertmanager-port",
            str(am_port),
            "--scrape-interval",
            "2s",
            "--webhook-url",
            f"http://127.0.0.1:{hook.server_port}/hook",
            "--extra-rule-file",
            extra,
        ],
        check=True,
        env=child_env,
    )
    logs = [(work / name).open("wb") for name in ("prometheus.log", "alertmanager.log")]  # closed below
    procs = [
        subprocess.Popen(  # noqa: S603
            [  # noqa: S607 (Debian's binaries on PATH, as the scripts use them)
                "prometheus",
                f"--config.file={work}/prometheus.yml",
                f"--storage.tsdb.path={work}/prometheus-data",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=2s",
            ],
            stdout=logs[0],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(  # noqa: S603
            [  # noqa: S607
                "prometheus-alertmanager",
                f"--config.file={work}/alertmanager.yml",
                f"--storage.path={work}/am-data",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=logs[1],
            stderr=subprocess.STDOUT,
        ),
    ]
    prom = f"http://127.0.0.1:{prom_port}"
    try:
        wait_until(lambda: requests.get(f"{prom}/-/ready", timeout=2).ok, 30, "Prometheus")
        wait_until(lambda: requests.get(f"http://127.0.0.1:{am_port}/-/ready", timeout=2).ok, 30, "Alertmanager")
        yield {"prometheus": prom, "token": env["ALERTMANAGER_WEBHOOK_TOKEN"], "config": work / "prometheus.yml"}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        for log in logs:
            log.close()
        hook.shutdown()
        smtp.shutdown()


def query(prom: str, expr: str) -> dict:
    answer = requests.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", f"{expr!r}: {answer.get('errorType')}: {answer.get('error')}"
    return answer["data"]


def panel_queries() -> list[tuple[str, str]]:
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for name, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(name, value)
                found.append((f"{path.stem}: {panel['title']} [{target['refId']}]", expr))
    return found


def test_every_scrape_target_is_up(monitoring):
    jobs = {job["job_name"] for job in yaml.safe_load(monitoring["config"].read_text())["scrape_configs"]}

    def all_up():
        targets = requests.get(f"{monitoring['prometheus']}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        healthy = {t["labels"]["job"] for t in targets if t["health"] == "up"}
        return healthy >= jobs and all(t["health"] == "up" for t in targets)

    wait_until(all_up, 30, f"every target of {sorted(jobs)} to be up")
    for probe in query(monitoring["prometheus"], 'probe_success{job="dependencies"}')["result"]:
        assert probe["value"][1] == "1", f"{probe['metric']['dependency']} probe failed"


def test_dashboards_exist_with_unique_panel_ids():
    assert DASHBOARDS, "no dashboard JSON under monitoring/grafana/dashboards"
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        assert dashboard["uid"] and dashboard["title"]


def test_every_dashboard_panel_query_executes(monitoring):
    queries = panel_queries()
    assert len(queries) >= 20
    wait_until(lambda: query(monitoring["prometheus"], 'up{job="django"}')["result"], 30, "a first scrape")
    for name, expr in queries:
        try:
            query(monitoring["prometheus"], expr)
        except AssertionError as error:
            pytest.fail(f"{name}: {error}")


@pytest.mark.parametrize(
    "expr",
    [
        'up{job="django"} == 1',
        "django_http_responses_total_by_status_total",
        "django_db_query_duration_seconds_bucket",
        "ai_server_http_requests_total",
        'rabbitmq_detailed_queue_consumers{vhost="cdss", queue="fhir"} > 0',
        'rabbitmq_detailed_queue_messages_ready{vhost="cdss", queue="ai_jobs"}',
        "mysql_up == 1",
        "mysql_global_status_threads_connected",
        "redis_up == 1",
        "node_cpu_seconds_total",
        'probe_success{dependency="orthanc"} == 1',
        'probe_success{dependency="fhir"} == 1',
        'probe_success{dependency="emr"} == 1',
        # the certificate nginx serves is watched (and the local one is far from expiry)
        'probe_ssl_earliest_cert_expiry{job="tls"} - time() > 30 * 86400',
    ],
)
def test_key_series_have_data(monitoring, expr):
    wait_until(lambda: query(monitoring["prometheus"], expr)["result"], 30, f"data for {expr}")


def test_every_rule_expression_executes_and_evaluates_cleanly(monitoring):
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                query(monitoring["prometheus"], rule["expr"])

    def evaluated():
        groups = requests.get(f"{monitoring['prometheus']}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return (
            rules
            if all(
                rule.get("lastEvaluation", "").startswith("2") and not rule["lastEvaluation"].startswith("0001")
                for rule in rules
            )
            else None
        )

    rules = wait_until(evaluated, 30, "every rule to be evaluated once")
    broken = [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
    assert not broken


def test_critical_alert_reaches_the_oncall_webhook_with_its_token(monitoring):
    def delivered():
        return [
            hit
            for hit in Webhook.received
            if "route=oncall" in hit["path"]
            and any(a["labels"]["alertname"] == "E2ECodeBlue" for a in hit["body"]["alerts"])
        ]

    hit = wait_until(delivered, 60, "the E2ECodeBlue alert at the on-call webhook")[0]
    assert hit["auth"] == f"Bearer {monitoring['token']}"
    assert hit["body"]["receiver"] == "oncall-code-blue"
    assert hit["body"]["status"] == "firing"
    assert re.match(r"^/hook\?route=oncall$", hit["path"])


def test_critical_alert_reaches_people_by_email_and_the_messenger_within_the_wait(monitoring):
    def firing_since() -> float | None:
        alerts = requests.get(f"{monitoring['prometheus']}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        fired = [a for a in alerts if a["labels"]["alertname"] == "E2ECodeBlue" and a["state"] == "firing"]
        return fired and min(_epoch(a["activeAt"]) for a in fired)

    def mailed():
        return [m for m in SmtpSink.received if "E2ECodeBlue" in m["message"]["Subject"]]

    def messaged():
        return [
            hit
            for hit in Webhook.received
            if hit["path"] == "/messenger"
            and any(a["labels"]["alertname"] == "E2ECodeBlue" for a in hit["body"]["alerts"])
        ]

    active_at = wait_until(firing_since, 60, "E2ECodeBlue to fire in Prometheus")
    mail = wait_until(mailed, 60, "the E2ECodeBlue e-mail at the SMTP sink")[0]
    message = wait_until(messaged, 60, "the E2ECodeBlue alert at the messenger webhook")[0]
    assert sorted(mail["to"]) == ["RCPT TO:<oncall@example.org>", "RCPT TO:<radiology-it@example.org>"]
    assert "cdss-alerts@example.org" in mail["message"]["From"]
    assert message["body"]["receiver"] == "oncall-code-blue" and message["auth"] == ""  # no CDSS token leaks
    # group_wait 0 s for code-blue: the e-mail leaves as soon as Prometheus hands the alert over
    delay = mail["at"] - active_at
    print(f"code-blue e-mail {delay:.1f} s after the alert became active")
    assert delay < 30


def _epoch(timestamp: str) -> float:
    """Prometheus's RFC 3339 time (nanoseconds, Z) as seconds since the epoch."""
    from datetime import datetime

    whole, _, fraction = timestamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]:0<6}+00:00").timestamp()
