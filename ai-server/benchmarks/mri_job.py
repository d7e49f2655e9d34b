"""Benchmark: one MRI segmentation job on a 95-slice series, stage by stage, against the forward pass of a
reference network on the same volume, measured in the same run; then jobs per minute with one consumer.

    cd ai-server && .venv/bin/python benchmarks/mri_job.py [--jobs 5] [--rounds 7]

Goal (issue #7): all stages but the forward pass together take no longer than the reference forward pass
(MONAI UNet, channels 16..256, strides 2, 2 residual units). Runs on the servers `scripts/services.sh up`
starts (RabbitMQ vhost cdss_ai_test, Orthanc, the object store) and on CUDA when present.
"""

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pika
import pydicom
import torch
from monai.networks.nets import UNet

from ai_server import synthetic
from ai_server.config import Settings
from ai_server.consumer import Consumer
from ai_server.jobs import JobRunner, Services
from ai_server.messaging import CREATE_KEY, EXCHANGE, QUEUES, connection_parameters, declare
from ai_server.registry import Registry
from ai_server.storage import ObjectStore

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("queue_wait", "fetch", "volume", "preprocessing", "forward", "postprocessing", "writing")


def bench_settings() -> Settings:
    return Settings(_env_file=ROOT / ".env").isolated(
        vhost="cdss_ai_test",
        bucket_prefix=f"bench{uuid.uuid4().hex[:6]}-",
        model_cache_dir=ROOT / "var" / "bench-model-cache",
    )


def reference_forward(shape: tuple[int, ...], device: torch.device):
    """A timer of one forward pass of the reference UNet on a volume of `shape` (padded to a multiple of 16)."""
    net = UNet(3, 1, 2, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2).to(device).eval()
    padded = [((size + 15) // 16) * 16 for size in shape]
    x = torch.randn(1, 1, *padded, device=device)

    def timed() -> float:
        with torch.inference_mode():
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            net(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - started

    timed()  # warm-up
    return timed


def run_jobs(runner: JobRunner, settings: Settings, study_uid: str, count: int) -> tuple[list[dict], float]:
    connection = pika.BlockingConnection(connection_parameters(settings.rabbitmq_url))
    channel = connection.channel()
    declare(channel)
    for queue in QUEUES:
        channel.queue_purge(queue)
    consumer = Consumer(runner, settings.rabbitmq_url)
    thread = threading.Thread(target=consumer.run, kwargs={"max_jobs": count})
    thread.start()
    while channel.queue_declare("ai_jobs", passive=True).method.consumer_count == 0:  # the consumer is ready
        time.sleep(0.05)
    started = time.perf_counter()
    for _ in range(count):
        job = {
            "job_id": str(uuid.uuid4()),
            "attempt": 1,
            "model": "mri-lesion-demo",
            "model_version": None,
            "input": {"kind": "dicom-study", "study_instance_uid": study_uid, "series_instance_uids": []},
            "requested_at": datetime.now(UTC).isoformat(),
        }
        channel.basic_publish(EXCHANGE, CREATE_KEY, json.dumps(job).encode(), pika.BasicProperties(delivery_mode=2))
    thread.join()
    elapsed = time.perf_counter() - started
    results = []
    while len(results) < count:
        method, _props, body = channel.basic_get("ai_results", auto_ack=True)
        if method is None:
            time.sleep(0.1)
            continue
        results.append(json.loads(body))
    connection.close()
    return results, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5, help="jobs for the throughput figure (default 5)")
    parser.add_argument("--rounds", type=int, default=7, help="timed job + reference pass rounds (default 7)")
    args = parser.parse_args()

    settings = bench_settings()
    store = ObjectStore(settings)
    registry = Registry(store, settings.models_bucket, settings.model_cache_dir, "cpu")
    for directory in sorted((ROOT / "ai-server" / "models").glob("mri-*/*/")):
        registry.add(directory)
    services = Services.build(settings)

    case = synthetic.make_case(seed=11, lesion_radius_mm=12.0)
    study_uid = pydicom.uid.generate_uid()
    files = synthetic.write_series(case.volume, case.spacing, study_instance_uid=study_uid, patient_id="BENCH-1")
    for data in files:
        services.orthanc.store(data)
    try:
        return measure(args, settings, services, case, study_uid, len(files))
    finally:
        services.orthanc.delete_study(study_uid)  # with the SEGs the jobs stored


def measure(args, settings: Settings, services: Services, case, study_uid: str, slices: int) -> int:
    device = services.device.torch_device
    print(f"device: {services.device.describe()}; torch threads: {torch.get_num_threads()}")
    print(f"series: {slices} slices, volume {case.volume.shape}")

    # One runner for all jobs, as in the consumer process: its publisher's broker connection is opened once.
    runner = JobRunner(services)
    run_jobs(runner, settings, study_uid, 1)  # warm-up: first-call costs (imports, allocator) are not the steady state
    # Rounds alternate one job and one reference forward pass, so both see the machine in the same state.
    reference_pass = reference_forward(case.volume.shape, device)
    results, references = [], []
    for _ in range(args.rounds):
        results.append(run_jobs(runner, settings, study_uid, 1)[0][0])
        references.append(reference_pass())
    failed = [r for r in results if r["status"] != "COMPLETED"]
    if failed:
        print(f"the job failed: {failed[0]['reason']}", file=sys.stderr)
        return 1
    result = results[-1]
    timings = {name: statistics.median(r["timings"].get(name, 0.0) for r in results) for name in (*STAGES, "total")}
    reference = statistics.median(references)
    print(
        f"\nMRI job (median of {args.rounds}), {slices}-slice series (lesion {case.lesion_ml:.1f} mL true, "
        f"{result['metrics'].get('volume_ml', {}).get('lesion', 'n/a')} mL reported)"
    )
    for stage in STAGES:
        print(f"  {stage:<15} {timings.get(stage, 0.0) * 1000:9.1f} ms")
    print(f"  {'total':<15} {timings['total'] * 1000:9.1f} ms  (from taking the job to its result)")
    overhead = sum(timings.get(stage, 0.0) for stage in STAGES if stage not in ("forward", "queue_wait"))
    print(f"\nreference forward pass (MONAI UNet 16..256, same volume, median): {reference * 1000:.1f} ms")
    print(f"all stages but the forward pass (fetch..writing, without queue wait): {overhead * 1000:.1f} ms")
    print(f"ratio overhead / reference forward = {overhead / reference:.2f}  (goal: <= 1.0)")

    results, elapsed = run_jobs(runner, settings, study_uid, args.jobs)
    completed = sum(r["status"] == "COMPLETED" for r in results)
    print(
        f"\nthroughput, one consumer: {args.jobs} jobs in {elapsed:.1f} s = {args.jobs / elapsed * 60:.1f} jobs/min "
        f"({completed} completed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
