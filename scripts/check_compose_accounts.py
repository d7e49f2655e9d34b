"""Least privilege in docker-compose.yml: what each container receives, and that every account it signs in
with is one compose provisions (the `deploy` suite; scripts/check-deploy-config.sh runs it).

    backend/.venv/bin/python scripts/check_compose_accounts.py [COMPOSE_FILE]   (docker-compose, sh, bash)

The compose file is rendered (`docker-compose config`, demo profile) from .env.example with every secret
given a value of its own, so each secret can be traced into the containers, whether alone or inside a URL:
1. no service reads a whole env file (`env_file`);
2. each container holds exactly the secrets RECEIVES lists for it (docs/security.md, "Compose: what each
   container receives"), none of the local run's (DATABASE_URL, *_RABBITMQ_URL, ...);
3. every account a container signs in with exists with that password, as the provisioning scripts make
   them, each run here with its container's environment: RabbitMQ (deploy/rabbitmq/definitions.sh),
   Redis (deploy/redis/users.sh), MariaDB (deploy/mariadb/accounts.sh, its SQL captured) and MinIO
   (deploy/object-store/minio-init.sh, its mc calls captured); and each of these scripts is mounted
   into the container that runs it.
Prints one line per problem and exits 1 if there is any.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

# A Django process starts only with these (cdss/settings/base.py: required); each kind then adds its own.
DJANGO = {"DJANGO_SECRET_KEY", "MARIADB_APP_PASSWORD", "REDIS_PASSWORD", "ORTHANC_PASSWORD", "APP_S3_SECRET_KEY"}
EMR = {"EMR_CLIENT_SECRET", "EMR_PASSWORD"}
AI = {"RABBITMQ_AI_PASSWORD", "AI_S3_SECRET_KEY", "ORTHANC_PASSWORD"}
S3_ACCOUNTS = {"APP_S3_SECRET_KEY", "AI_S3_SECRET_KEY", "BACKUP_S3_SECRET_KEY", "MODELS_S3_SECRET_KEY"}
BROKER = {"RABBITMQ_DEFAULT_PASS", "RABBITMQ_WEB_PASSWORD", "RABBITMQ_WORKER_PASSWORD", "RABBITMQ_BEAT_PASSWORD",
          "RABBITMQ_EVENTS_PASSWORD", "RABBITMQ_AI_PASSWORD"}  # fmt: skip
# The secrets (names in .env.example) each container may hold; a container not named here holds none.
RECEIVES = {
    "migrate": {
        "DJANGO_SECRET_KEY",
        "ORTHANC_PASSWORD",
        "MARIADB_PASSWORD",
        "RABBITMQ_DEFAULT_PASS",
        "S3_ADMIN_SECRET_KEY",
    },
    "django-api": DJANGO | EMR | {"RABBITMQ_WEB_PASSWORD", "ALERTMANAGER_WEBHOOK_TOKEN", "AI_SERVICE_TOKEN"},
    "django-upload": DJANGO | {"RABBITMQ_WEB_PASSWORD"},
    "django-channels": DJANGO | {"RABBITMQ_WEB_PASSWORD"},
    "celery-worker": DJANGO | EMR | {"RABBITMQ_WORKER_PASSWORD", "FHIR_CLIENT_SECRET", "AUDIT_CHECKPOINT_KEY"},
    "celery-beat": DJANGO | {"RABBITMQ_BEAT_PASSWORD"},
    "ai-events": DJANGO | {"RABBITMQ_EVENTS_PASSWORD"},
    "ai-server": AI | {"AI_SERVICE_TOKEN"},
    "ai-worker": AI,
    "ai-models": {"MODELS_S3_SECRET_KEY"},
    "backup": {"MARIADB_PASSWORD", "BACKUP_S3_SECRET_KEY", "OFFSITE_S3_SECRET_KEY"},
    "mysql": {"MARIADB_ROOT_PASSWORD"},
    "mysql-init": {"MARIADB_ROOT_PASSWORD", "MARIADB_PASSWORD", "MARIADB_APP_PASSWORD", "MYSQLD_EXPORTER_PASSWORD"},
    "redis": {"REDIS_PASSWORD", "REDIS_EXPORTER_PASSWORD"},
    "rabbitmq": BROKER,
    "minio": {"S3_ADMIN_SECRET_KEY"},
    "minio-init": {"S3_ADMIN_SECRET_KEY"} | S3_ACCOUNTS,
    "alertmanager-config": {"ALERTMANAGER_WEBHOOK_TOKEN", "ALERT_SMTP_PASSWORD", "ALERT_MESSENGER_WEBHOOK_URL"},
    "mysqld-exporter": {"MYSQLD_EXPORTER_PASSWORD"},
    "redis-exporter": {"REDIS_EXPORTER_PASSWORD"},
    "grafana": {"GRAFANA_ADMIN_PASSWORD"},
    "orthanc": {"ORTHANC_PASSWORD"},
    "nginx": {"ORTHANC_PASSWORD"},  # DICOMweb retrievals it serves from Orthanc once Django authorised them
    "openemr-db": {"OPENEMR_DB_ROOT_PASSWORD"},
    "openemr": {"OPENEMR_DB_ROOT_PASSWORD", "OPENEMR_DB_PASSWORD", "OPENEMR_ADMIN_PASSWORD"},
}
BROKER_SOURCES = ("deploy/rabbitmq", "deploy/rabbitmq/20-cdss.conf")  # the scripts, and the file that loads
KEY_PAIRS = (("S3_ACCESS_KEY", "S3_SECRET_KEY"), ("S3_ADMIN_ACCESS_KEY", "S3_ADMIN_SECRET_KEY"))
SECRET_NAME = re.compile(r"(PASSWORD|PASS|SECRET|SECRET_KEY|TOKEN|CHECKPOINT_KEY|WEBHOOK_URL)$")


def token(name: str) -> str:
    """A value found nowhere else: no name holds a Z once lower-cased."""
    return "Z" + name.lower().replace("_", "-") + "Z"


def traced_env_file(path: Path) -> dict[str, str]:
    """.env.example with a value of its own in every secret (generated ones, and empty ones named like a
    secret); writes it to `path` and returns the secrets' names and values."""
    secrets, lines = {}, []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            name = name.strip()
            if "__generate__" in value or SECRET_NAME.search(name):
                secrets[name] = token(name)
                value = value.replace("__generate__", token(name)) if "__generate__" in value else token(name)
                line = f"{name}={value}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return secrets


def render(env_file: Path) -> dict:
    command = ["docker-compose", "-f", str(COMPOSE), "--env-file", str(env_file), "--profile", "demo", "config"]
    out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603 (fixed arguments)
    return yaml.safe_load(out.stdout)["services"]


def run(command: list[str], env: dict, stub_dir: Path | None = None) -> str:
    path = f"{stub_dir}:{os.environ['PATH']}" if stub_dir else os.environ["PATH"]
    out = subprocess.run(command, cwd=ROOT, env={**env, "PATH": path}, capture_output=True, text=True)  # noqa: S603
    if out.returncode:
        raise RuntimeError(f"{' '.join(command)} failed: {out.stderr.strip()}")
    return out.stdout


def stub(directory: Path, name: str, body: str) -> None:
    (directory / name).write_text("#!/bin/bash\n" + body, encoding="utf-8")
    (directory / name).chmod(0o755)


def mounted(service: dict, source: str) -> bool:
    path = str(ROOT / source)
    return any(str(volume).startswith(path + ":") for volume in service.get("volumes", []))


def url_account(url: str) -> tuple[str, str | None, str]:
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    return unquote(parts.username or ""), password, parts.path.lstrip("/")


def received(services: dict, secrets: dict[str, str]) -> list[str]:
    problems = []
    for name, service in services.items():
        text = yaml.safe_dump(service)
        holds = {secret for secret, value in secrets.items() if value in text}
        allowed = RECEIVES.get(name, set())
        problems += [f"{name} receives {secret}, which it may not" for secret in sorted(holds - allowed)]
        problems += [f"{name} lacks {secret}" for secret in sorted(allowed - holds)]
    return problems


def broker_accounts(services: dict) -> list[str]:
    broker = services["rabbitmq"]
    problems = [f"rabbitmq does not mount {source}" for source in BROKER_SOURCES if not mounted(broker, source)]
    loaded = re.search(
        r"^load_definitions = (\S+)$", (ROOT / BROKER_SOURCES[1]).read_text(encoding="utf-8"), re.MULTILINE
    )
    if not loaded or f">{loaded[1]}" not in " ".join(broker["command"]):
        problems.append("rabbitmq does not write its definitions where deploy/rabbitmq/20-cdss.conf loads them")
    definitions = json.loads(run(["sh", "deploy/rabbitmq/definitions.sh"], broker["environment"]))
    users = {user["name"]: user["password"] for user in definitions["users"]}
    vhosts = {(rights["user"], rights["vhost"]) for rights in definitions["permissions"]}
    for name, service in services.items():
        url = service.get("environment", {}).get("RABBITMQ_URL")
        if name == "rabbitmq" or not url:
            continue
        user, password, vhost = url_account(url)
        if users.get(user) != password or (user, vhost) not in vhosts:
            problems.append(f"{name}: RabbitMQ account {user} on {vhost} is not provisioned with its password")
    return problems


def redis_accounts(services: dict) -> list[str]:
    redis = services["redis"]
    problems = [] if mounted(redis, "deploy/redis/users.sh") else ["redis does not mount deploy/redis/users.sh"]
    acl = run(["sh", "-c", ". deploy/redis/users.sh; redis_acl_file"], redis["environment"])
    users = dict(re.findall(r"^user (\S+) on #([0-9a-f]{64}) ", acl, re.MULTILINE))
    if not re.search(r"^user default off ", acl, re.MULTILINE):
        problems.append("redis: the default user is not switched off")
    for name, service in services.items():
        env = service.get("environment", {})
        if name == "redis" or "REDIS_PASSWORD" not in env:
            continue
        user = env.get("REDIS_USER") or env.get("REDIS_USERNAME") or "default"
        digest = run(["sh", "-c", '. deploy/redis/users.sh; redis_password_hash "$1"', "-", env["REDIS_PASSWORD"]], {})
        if users.get(user) != digest.strip():
            problems.append(f"{name}: Redis user {user} is not provisioned with its password")
    return problems


def database_accounts(services: dict) -> list[str]:
    init = services["mysql-init"]
    problems = [] if mounted(init, "deploy/mariadb/accounts.sh") else ["mysql-init does not mount its script"]
    if init["environment"]["MARIADB_ROOT_PASSWORD"] != services["mysql"]["environment"]["MARIADB_ROOT_PASSWORD"]:
        problems.append("mysql-init does not sign in with mysql's root password")
    with tempfile.TemporaryDirectory() as stubs:
        stub(Path(stubs), "mariadb", f'cat >"{stubs}/sql"\n')
        run(["sh", "deploy/mariadb/accounts.sh"], init["environment"], Path(stubs))
        sql = (Path(stubs) / "sql").read_text(encoding="utf-8")
    created = dict(re.findall(r"^CREATE USER IF NOT EXISTS '([^']+)'@'%' IDENTIFIED BY '([^']*)'", sql, re.MULTILINE))
    used = []
    for name, service in services.items():
        env = service.get("environment", {})
        used += [(name, *url_account(env[key])[:2]) for key in ("DATABASE_URL", "DATABASE_OWNER_URL") if key in env]
        for arg in service.get("command") or []:  # mysqld-exporter: its user on the command line
            if arg.startswith("--mysqld.username="):
                used.append((name, arg.split("=", 1)[1], env.get("MYSQLD_EXPORTER_PASSWORD")))
    for name, user, password in used:
        if user not in created or (password is not None and created[user] != password):
            problems.append(f"{name}: MariaDB account {user} is not provisioned with its password")
        elif password is not None and f"ALTER USER '{user}'@'%' IDENTIFIED BY '{password}'" not in sql:
            problems.append(f"{name}: MariaDB account {user} keeps an old password after a change in .env")
    return problems


def object_store_accounts(services: dict) -> list[str]:
    init, minio = services["minio-init"], services["minio"]
    sources = ("deploy/object-store/minio-init.sh", "deploy/object-store/policies")
    problems = [f"minio-init does not mount {source}" for source in sources if not mounted(init, source)]
    root = (minio["environment"]["MINIO_ROOT_USER"], minio["environment"]["MINIO_ROOT_PASSWORD"])
    if url_account(init["environment"]["MC_HOST_cdss"])[:2] != root:
        problems.append("minio-init does not sign in as MinIO's root")
    with tempfile.TemporaryDirectory() as stubs:
        # mc, recording each call (and each policy it is given) instead of calling MinIO
        record = f'printf "%s\\n" "$*" >>"{stubs}/calls"\n'
        keep_policy = f'[ "$3 $4" = "policy create" ] && cp "${{@: -1}}" "{stubs}/policy-$6.json"\ntrue\n'
        stub(Path(stubs), "mc", record + keep_policy)
        env = {**init["environment"], "POLICY_DIR": str(ROOT / "deploy/object-store/policies")}
        run(["bash", "deploy/object-store/minio-init.sh"], env, Path(stubs))
        calls = (Path(stubs) / "calls").read_text(encoding="utf-8")
        for policy in sorted(Path(stubs).glob("policy-*.json")):
            text = policy.read_text(encoding="utf-8")
            if "${" in text:
                problems.append(f"minio-init: {policy.stem} keeps a placeholder: {text.strip()[:80]}")
            json.loads(text)
    users = dict(re.findall(r"^--quiet admin user add cdss (\S+) (\S+)$", calls, re.MULTILINE))
    attachments = re.findall(r"^--quiet admin policy attach cdss (\S+) --user (\S+)$", calls, re.MULTILINE)
    attached = {user: policy for policy, user in attachments}
    for name, service in services.items():
        env = service.get("environment", {})
        for access_var, secret_var in KEY_PAIRS:
            if name in ("minio", "minio-init") or access_var not in env:
                continue
            pair = (env[access_var], env.get(secret_var))
            if pair != root and (users.get(pair[0]) != pair[1] or pair[0] not in attached):
                problems.append(f"{name}: object-store account {pair[0]} is not provisioned with its key and a policy")
    return problems


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "traced.env"
        secrets = traced_env_file(env_file)
        services = render(env_file)
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    problems = [
        f"{name} reads a whole env file ({service['env_file']})"
        for name, service in raw.items()
        if "env_file" in service
    ]
    problems += received(services, secrets)
    for check in (broker_accounts, redis_accounts, database_accounts, object_store_accounts):
        try:
            problems += check(services)
        except (RuntimeError, KeyError, ValueError) as error:
            problems.append(f"{check.__name__}: {error!r}")
    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
