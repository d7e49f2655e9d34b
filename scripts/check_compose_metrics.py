"""Every process of docker-compose.yml that has metrics is scraped (the `deploy` suite; run by
scripts/check-deploy-config.sh).

    backend/.venv/bin/python scripts/check_compose_metrics.py   (needs docker-compose)

From the compose file rendered with .env.example (demo profile), monitoring/prometheus.yml and the Grafana
dashboards:
1. each long-running container of our images (backend, ai-server) serves metrics (gunicorn's or daphne's
   port, or CDSS_METRICS_PORT / AI_METRICS_PORT), unless NO_METRICS says why not, and each exporter
   (THIRD_PARTY) has its port; a scrape job targets each such service:port;
2. every address Prometheus scrapes is a compose service and a port it exposes or publishes;
3. the dashboards read the GPU gauges (ai_server_gpu_*) from the job of the container holding the GPU.
Prints one line per problem and exits 1 if there is any.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUR_IMAGES = {"backend", "ai-server"}  # build contexts
NO_METRICS = {"celery-beat": "it only schedules: the tasks, and their metrics, run in the worker"}
# Third-party images with metrics: the port they serve them on.
THIRD_PARTY = {
    "rabbitmq": 15692,  # rabbitmq_prometheus
    "prom/mysqld-exporter": 9104,
    "oliver006/redis_exporter": 9121,
    "prom/node-exporter": 9100,
    "prom/blackbox-exporter": 9115,
    "prom/prometheus": 9090,
}
METRICS_PORT_VARIABLES = ("CDSS_METRICS_PORT", "AI_METRICS_PORT")


def render() -> dict:
    command = ["docker-compose", "-f", "docker-compose.yml", "--env-file", ".env.example"]
    command += ["--profile", "demo", "config"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603 (fixed arguments)
    return yaml.safe_load(out.stdout)["services"]


def metrics_port(service: dict) -> int | None:
    """The port a service serves its metrics on; None when it has none."""
    build = service.get("build")
    if isinstance(build, dict) and Path(build["context"]).name in OUR_IMAGES:
        environment = service.get("environment") or {}
        for variable in METRICS_PORT_VARIABLES:
            if environment.get(variable):
                return int(environment[variable])
        command = " ".join(service.get("command") or [])
        served = re.search(r"gunicorn .*--bind \S+:(\d+)", command) or re.search(r"daphne .*--port (\d+)", command)
        return int(served.group(1)) if served else None
    image = service.get("image", "").rsplit(":", 1)[0]
    return THIRD_PARTY.get(image)


def needs_metrics(service: dict) -> bool:
    build = service.get("build")
    ours = isinstance(build, dict) and Path(build["context"]).name in OUR_IMAGES
    return ours and service.get("restart") != "no"  # a one-shot is gone before a scrape


def open_ports(service: dict) -> set[int]:
    ports = {int(str(port).split("/")[0]) for port in service.get("expose") or []}
    for port in service.get("ports") or []:
        ports.add(int(port["target"] if isinstance(port, dict) else str(port).split(":")[-1].split("/")[0]))
    return ports


def scrape_addresses(job: dict) -> list[str]:
    """Where Prometheus connects for a job: its targets, or the probe's exporter when relabelled there."""
    for relabel in job.get("relabel_configs", []):
        if relabel.get("target_label") == "__address__":
            return [relabel["replacement"]]
    return [target for static in job["static_configs"] for target in static["targets"]]


def main() -> int:
    services = render()
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text(encoding="utf-8"))
    problems = []

    scraped: dict[str, str] = {}  # "service:port" -> job
    for job in config["scrape_configs"]:
        for address in scrape_addresses(job):
            host, _, port = address.partition(":")
            service = "prometheus" if host == "localhost" else host  # Prometheus scrapes itself
            scraped[f"{service}:{port}"] = job["job_name"]
            if service not in services:
                problems.append(f"job {job['job_name']}: {address}: no compose service {host}")
            elif int(port) not in open_ports(services[service]):
                problems.append(f"job {job['job_name']}: {address}: {service} exposes no port {port}")

    for name, service in sorted(services.items()):
        port = metrics_port(service)
        if port is None:
            if needs_metrics(service) and name not in NO_METRICS:
                problems.append(f"{name}: serves no metrics (give it a metrics port, or say why in NO_METRICS)")
            continue
        if f"{name}:{port}" not in scraped:
            problems.append(f"{name}: its metrics on port {port} are scraped by no job in monitoring/prometheus.yml")

    gpu_services = [
        name
        for name, service in services.items()
        for device in (service.get("deploy") or {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if "gpu" in device.get("capabilities", [])
    ]
    gpu_jobs = {job for address, job in scraped.items() if address.split(":")[0] in gpu_services}
    if not gpu_jobs:
        problems.append(f"no scrape job reads the container holding the GPU ({', '.join(gpu_services) or 'none'})")
    panels = 0
    for dashboard in sorted((ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(dashboard.read_text(encoding="utf-8")).get("panels", []):
            for target in panel.get("targets", []):
                expr = target.get("expr", "")
                for selector in re.findall(r"ai_server_gpu_\w+(\{[^}]*\})?", expr):
                    panels += 1
                    job = re.search(r'job="([^"]+)"', selector)
                    if not job or job.group(1) not in gpu_jobs:
                        problems.append(
                            f"{dashboard.name}, panel {panel.get('title')!r}: {expr} does not select"
                            f" the GPU's job ({', '.join(sorted(gpu_jobs))})"
                        )
    if not panels:
        problems.append("no dashboard panel reads ai_server_gpu_*")

    print("\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
