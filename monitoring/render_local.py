"""Render the compose monitoring configuration for a machine without Docker (the local run, the tests).

    python monitoring/render_local.py OUT_DIR [--prometheus-port N] [--alertmanager-port N]
                                              [--scrape-interval 15s] [--webhook-url URL]
                                              [--extra-rule-file FILE ...]
    python monitoring/render_local.py OUT_DIR --channels-only --secrets-at PATH [--file-owner UID]

monitoring/prometheus.yml and monitoring/alertmanager.yml stay the single source; this writes
OUT_DIR/prometheus.yml, OUT_DIR/alertmanager.yml and OUT_DIR/secrets/webhook-token with the compose
service names replaced by the local addresses (from the environment, i.e. .env as scripts/_lib.sh's
load_env exports it), the jobs of compose containers whose processes locally share the `django` or
`ai-server` job's metrics directory left out (LOCALLY_AGGREGATED), the rule files by their absolute
paths, and the webhook token from ALERTMANAGER_WEBHOOK_TOKEN. The code-blue channels that reach people
(e-mail, the messenger webhook) get their addresses from ALERT_SMTP_SMARTHOST, ALERT_EMAIL_FROM,
ALERT_EMAIL_TO (comma-separated), ALERT_SMTP_USERNAME, ALERT_SMTP_PASSWORD, ALERT_SMTP_REQUIRE_TLS and
ALERT_MESSENGER_WEBHOOK_URL; a channel whose address is empty is left out. --channels-only is compose's
step (its alertmanager-config service, in the backend image): alertmanager.yml with the compose service
names kept and only the channels and the secret files filled in, the secrets referred to where
Alertmanager mounts them (--secrets-at) and owned by the user it runs as (--file-owner). Needs PyYAML
(the backend virtualenv and image have it).
"""

import argparse
import os
import pathlib
import sys
from urllib.parse import urlsplit

import yaml

HERE = pathlib.Path(__file__).resolve().parent


def hostport(url: str, default_port: int) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or default_port}"


def local_addresses(args) -> dict[str, str]:
    env = os.environ
    rabbit = urlsplit(env.get("RABBITMQ_URL", "amqp://127.0.0.1")).hostname or "127.0.0.1"
    return {
        "localhost:9090": f"127.0.0.1:{args.prometheus_port}",
        "alertmanager:9093": f"127.0.0.1:{args.alertmanager_port}",
        "django-api:8000": "127.0.0.1:8002",  # nginx's loopback listener: the live colour
        "ai-server:5000": hostport(env.get("AI_SERVER_URL", "http://127.0.0.1:5000"), 5000),
        "rabbitmq:15692": f"{rabbit}:15692",
        "mysqld-exporter:9104": "127.0.0.1:9104",
        "redis-exporter:9121": "127.0.0.1:9121",
        "node-exporter:9100": "127.0.0.1:9100",
        "blackbox-exporter:9115": "127.0.0.1:9115",
    }


# Compose targets whose processes, in the local run, write to the directory the `django` job (Django's
# /metrics) or the `ai-server` job aggregates: scraping them again would count them twice.
LOCALLY_AGGREGATED = {
    "django-upload:8000": "django",
    "django-channels:8001": "django",
    "celery-worker:9540": "django",
    "ai-events:9540": "django",
    "backup:9541": "django",
    "ai-worker:9540": "ai-server",
}


def dependency_urls() -> dict[str, str]:
    env = os.environ
    orthanc = env.get("ORTHANC_URL", "http://127.0.0.1:8042").rstrip("/")
    fhir = env.get("FHIR_BASE_URL", "").rstrip("/")
    emr = env.get("EMR_BASE_URL", "").rstrip("/")
    urls = {"orthanc": orthanc + "/system"}
    if fhir:
        urls["fhir"] = fhir + "/metadata"
    if emr:
        urls["emr"] = emr + "/"
    return urls


def render_prometheus(source: dict, args, out: pathlib.Path) -> dict:
    addresses = local_addresses(args)
    config = dict(source)
    config["global"] = dict(
        config["global"], scrape_interval=args.scrape_interval, evaluation_interval=args.scrape_interval
    )
    config["rule_files"] = [str(HERE / pattern) for pattern in source.get("rule_files", [])]
    config["rule_files"] += [str(pathlib.Path(extra).resolve()) for extra in args.extra_rule_file]
    for am in config["alerting"]["alertmanagers"]:
        for static in am["static_configs"]:
            static["targets"] = [addresses[t] for t in static["targets"]]
    jobs = []
    for job in source["scrape_configs"]:
        job = dict(job)
        if job["job_name"] == "dependencies":
            urls = dependency_urls()
            job["static_configs"] = [{"targets": [url], "labels": {"dependency": name}} for name, url in urls.items()]
        elif job["job_name"] == "tls":
            https_port = os.environ.get("HTTPS_PORT", "")
            if not https_port:
                continue  # no TLS listener in this run: nothing to watch
            job["static_configs"] = [{"targets": [f"127.0.0.1:{https_port}"]}]
        else:
            statics = [
                dict(static, targets=[addresses[t] for t in static["targets"] if t not in LOCALLY_AGGREGATED])
                for static in job["static_configs"]
            ]
            job["static_configs"] = [static for static in statics if static["targets"]]
            if not job["static_configs"]:
                continue
        for relabel in job.get("relabel_configs", []):
            if relabel.get("replacement") in addresses:
                relabel["replacement"] = addresses[relabel["replacement"]]
        jobs.append(job)
    config["scrape_configs"] = jobs
    return config


CDSS_HOOK_HOST = "django-api"  # the CDSS's own webhook; any other webhook is a hospital channel
MESSENGER_PLACEHOLDER = "messenger.hospital.invalid"


def render_channels(source: dict, env: dict[str, str], secrets: pathlib.Path, secrets_at: pathlib.Path) -> dict:
    """The e-mail and messenger channels filled in from the environment, or left out when not set; secret
    files are written to `secrets` and named as Alertmanager sees that folder (`secrets_at`), the CDSS
    webhook's token (written by main) included."""
    recipients = [address.strip() for address in env.get("ALERT_EMAIL_TO", "").split(",") if address.strip()]
    email = bool(env.get("ALERT_SMTP_SMARTHOST") and env.get("ALERT_EMAIL_FROM") and recipients)
    messenger = env.get("ALERT_MESSENGER_WEBHOOK_URL", "")
    config = dict(source)
    config["global"] = {name: value for name, value in source["global"].items() if not name.startswith("smtp_")}
    if email:
        config["global"].update(
            smtp_smarthost=env["ALERT_SMTP_SMARTHOST"],
            smtp_from=env["ALERT_EMAIL_FROM"],
            smtp_require_tls=env.get("ALERT_SMTP_REQUIRE_TLS", "true").lower() != "false",
        )
        if env.get("ALERT_SMTP_USERNAME"):
            _write_secret(secrets / "smtp-password", env.get("ALERT_SMTP_PASSWORD", ""))
            config["global"]["smtp_auth_username"] = env["ALERT_SMTP_USERNAME"]
            config["global"]["smtp_auth_password_file"] = str(secrets_at / "smtp-password")
    receivers = []
    for receiver in source["receivers"]:
        receiver = dict(receiver)
        if "email_configs" in receiver:
            receiver["email_configs"] = (
                [dict(channel, to=", ".join(recipients)) for channel in receiver["email_configs"]] if email else []
            )
        hooks = []
        for hook in receiver.get("webhook_configs", []):
            if urlsplit(hook["url"]).hostname == MESSENGER_PLACEHOLDER:
                if messenger:
                    hooks.append(dict(hook, url=messenger))
            else:
                hooks.append(_with_token_file(hook, secrets_at / "webhook-token"))
        receiver["webhook_configs"] = hooks
        receivers.append({name: value for name, value in receiver.items() if value != []})
    config["receivers"] = receivers
    return config


def _with_token_file(hook: dict, token_file: pathlib.Path) -> dict:
    auth = hook.get("http_config", {}).get("authorization")
    if not (auth and "credentials_file" in auth):
        return hook
    authorization = dict(auth, credentials_file=str(token_file))
    return dict(hook, http_config={**hook["http_config"], "authorization": authorization})


def _write_secret(path: pathlib.Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    path.write_text(value, encoding="utf-8")
    os.chmod(path, 0o600)


def render_alertmanager(source: dict, args, out: pathlib.Path) -> dict:
    config = render_channels(source, os.environ, out / "secrets", out / "secrets")
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            parts = urlsplit(hook["url"])
            if parts.hostname == CDSS_HOOK_HOST:
                base = args.webhook_url or f"http://127.0.0.1:8002{parts.path}"
                hook["url"] = base + (f"?{parts.query}" if parts.query else "")
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--prometheus-port", type=int, default=int(os.environ.get("PROMETHEUS_PORT", "9090")))
    parser.add_argument("--alertmanager-port", type=int, default=int(os.environ.get("ALERTMANAGER_PORT", "9093")))
    parser.add_argument("--scrape-interval", default="15s")
    parser.add_argument("--webhook-url", default="", help="send every alert here (tests)")
    parser.add_argument("--extra-rule-file", action="append", default=[], help="another rule file (tests)")
    parser.add_argument("--channels-only", action="store_true", help="compose: alertmanager.yml's channels only")
    parser.add_argument("--secrets-at", type=pathlib.Path, help="where Alertmanager finds OUT_DIR/secrets")
    parser.add_argument("--file-owner", type=int, help="user id to own what is written")
    args = parser.parse_args()

    token = os.environ.get("ALERTMANAGER_WEBHOOK_TOKEN", "")
    if not token:
        print("ALERTMANAGER_WEBHOOK_TOKEN is not set (scripts/env.sh generates it in .env)", file=sys.stderr)
        return 1
    out = args.out_dir.resolve()
    _write_secret(out / "secrets" / "webhook-token", token)

    alertmanager = yaml.safe_load((HERE / "alertmanager.yml").read_text(encoding="utf-8"))
    if args.channels_only:
        secrets_at = args.secrets_at or out / "secrets"
        rendered = {"alertmanager.yml": render_channels(alertmanager, os.environ, out / "secrets", secrets_at)}
    else:
        prometheus = yaml.safe_load((HERE / "prometheus.yml").read_text(encoding="utf-8"))
        rendered = {
            "prometheus.yml": render_prometheus(prometheus, args, out),
            "alertmanager.yml": render_alertmanager(alertmanager, args, out),
        }
    header = "# Rendered by monitoring/render_local.py from monitoring/{name}; edit that file, not this one.\n"
    for name, config in rendered.items():
        (out / name).write_text(header.format(name=name) + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    if args.file_owner is not None:
        for path in (out / "secrets", *(out / "secrets").iterdir(), *(out / name for name in rendered)):
            os.chown(path, args.file_owner, -1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
