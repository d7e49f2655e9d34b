"""Prometheus metrics of the ai-server. In the local run the Flask process and the job consumer write to
one PROMETHEUS_MULTIPROC_DIR and /metrics aggregates them (and adds the GPU's state read through NVML). In
compose they are separate containers, and the consumer, which holds the GPU, publishes its own on
AI_METRICS_PORT (serve)."""

import os
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily

STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

HTTP_REQUESTS = Counter("ai_server_http_requests_total", "HTTP requests answered", ["endpoint", "status"])
JOBS = Counter("ai_server_jobs_total", "AI jobs handled, by model and outcome", ["model", "outcome"])
JOB_DURATION = Histogram(
    "ai_server_job_duration_seconds", "From taking a job to its result", ["model"], buckets=STAGE_BUCKETS
)
STAGE_DURATION = Histogram(
    "ai_server_job_stage_seconds", "Time per pipeline stage", ["model", "stage"], buckets=STAGE_BUCKETS
)
QUEUE_WAIT = Histogram(
    "ai_server_job_queue_wait_seconds", "From the job's request to a consumer taking it", buckets=STAGE_BUCKETS
)
CONSUMER_CONNECTED = Gauge(
    "ai_server_consumer_connected", "1 while the job consumer holds a broker connection", multiprocess_mode="max"
)


class GpuCollector:
    """GPU utilisation and memory per device, read through NVML at scrape time; nothing without a GPU."""

    def collect(self):
        try:
            import pynvml

            pynvml.nvmlInit()
        except Exception:  # no NVIDIA driver (CPU machines): no GPU series
            return
        utilisation = GaugeMetricFamily("ai_server_gpu_utilization_ratio", "GPU busy fraction", labels=["gpu"])
        used = GaugeMetricFamily("ai_server_gpu_memory_used_bytes", "GPU memory in use", labels=["gpu"])
        total = GaugeMetricFamily("ai_server_gpu_memory_total_bytes", "GPU memory", labels=["gpu"])
        try:
            for index in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(index)
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                utilisation.add_metric([str(index)], pynvml.nvmlDeviceGetUtilizationRates(handle).gpu / 100)
                used.add_metric([str(index)], memory.used)
                total.add_metric([str(index)], memory.total)
        finally:
            pynvml.nvmlShutdown()
        yield from (utilisation, used, total)


MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if not MULTIPROCESS:
    REGISTRY.register(GpuCollector())


def registry() -> CollectorRegistry:
    """Several processes (gunicorn workers, the consumer): aggregate them when PROMETHEUS_MULTIPROC_DIR is set."""
    if not MULTIPROCESS:
        return REGISTRY
    aggregate = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(aggregate)
    aggregate.register(GpuCollector())
    return aggregate


def serve(port: int) -> WSGIServer:
    """This process's metrics (the GPU's included) on `port`, from a daemon thread."""
    server, _thread = start_http_server(port, registry=registry())
    return server
