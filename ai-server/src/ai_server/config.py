"""Settings from the environment, validated at start-up. The names the backend also reads (RABBITMQ_URL,
ORTHANC_*, S3_*, GPU_MEMORY_LIMIT) are the same variables, so one .env serves both; the service's own
settings start with AI_."""

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    service_name: str = Field("cdss-ai-server", alias="AI_SERVICE_NAME")
    rabbitmq_url: str = Field("amqp://guest:guest@127.0.0.1:5672/%2F", alias="RABBITMQ_URL")
    orthanc_url: str = Field("http://127.0.0.1:8042", alias="ORTHANC_URL")
    orthanc_username: str = Field("", alias="ORTHANC_USERNAME")
    orthanc_password: str = Field("", alias="ORTHANC_PASSWORD")
    orthanc_timeout_seconds: float = Field(30.0, alias="AI_ORTHANC_TIMEOUT_SECONDS")
    # Where Orthanc's DICOMweb plugin is mounted (its DicomWeb.Root), as the backend reads it.
    orthanc_dicomweb_root: str = Field("/api/radiology/dicom-web", alias="ORTHANC_DICOMWEB_ROOT")
    s3_endpoint_url: str = Field("http://127.0.0.1:9000", alias="S3_ENDPOINT_URL")
    s3_access_key: str = Field("", alias="S3_ACCESS_KEY")
    s3_secret_key: str = Field("", alias="S3_SECRET_KEY")
    s3_region: str = Field("us-east-1", alias="S3_REGION")
    s3_bucket_prefix: str = Field("", alias="S3_BUCKET_PREFIX")
    # "auto": CUDA when a GPU is present, else CPU. "cpu" or "cuda" force one.
    device: str = Field("auto", alias="AI_DEVICE", pattern="^(auto|cpu|cuda(:[0-9]+)?)$")
    # Fraction of the GPU's memory this process may take (torch.cuda.set_per_process_memory_fraction).
    gpu_memory_limit: float = Field(0.9, alias="GPU_MEMORY_LIMIT", gt=0, le=1)
    # On CUDA, the forward pass under float16 autocast (faster, half the activation memory); off: float32.
    # CPU always runs float32. benchmarks/gpu_check.sh compares the two precisions' masks (Dice).
    fp16: bool = Field(True, alias="AI_FP16")
    # Bearer token of the internal /infer endpoint (debugging only; nginx never routes to the ai-server).
    # Empty: /infer is refused.
    service_token: str = Field("", alias="AI_SERVICE_TOKEN")
    model_cache_dir: Path = Field(Path("var/ai-models"), alias="AI_MODEL_CACHE_DIR")
    # CPU threads torch may use (0: torch's default, all cores).
    torch_threads: int = Field(0, alias="AI_TORCH_THREADS", ge=0)
    # The AMQP heartbeat: RabbitMQ gives a consumer whose host went silent up after about this long and
    # hands its unacknowledged job to another consumer (the backend's Celery workers read it too).
    rabbitmq_heartbeat_seconds: int = Field(30, alias="RABBITMQ_HEARTBEAT_SECONDS", ge=0)
    # Back-off of the consumer when the broker or a dependency is away.
    reconnect_max_seconds: float = Field(30.0, alias="AI_RECONNECT_MAX_SECONDS", gt=0)
    # On SIGTERM, how long the consumer waits for the current job before leaving it for redelivery.
    shutdown_grace_seconds: float = Field(60.0, alias="AI_SHUTDOWN_GRACE_SECONDS", ge=0)
    retry_delay_seconds: float = Field(5.0, alias="AI_RETRY_DELAY_SECONDS", ge=0)
    # The consumer's own metrics port (compose: its container is scraped apart from the web one); 0: none.
    metrics_port: int = Field(0, alias="AI_METRICS_PORT", ge=0, le=65535)

    def isolated(self, *, vhost: str, bucket_prefix: str, **changes) -> "Settings":
        """A copy on another RabbitMQ vhost with buckets of its own (tests, benchmarks): it never meets the
        running system's queues or objects."""
        url = urlunsplit(urlsplit(self.rabbitmq_url)._replace(path=f"/{vhost}"))
        return self.model_copy(update={"rabbitmq_url": url, "s3_bucket_prefix": bucket_prefix, **changes})

    def bucket(self, name: str) -> str:
        return self.s3_bucket_prefix + name

    @property
    def models_bucket(self) -> str:
        return self.bucket("ai-models")

    @property
    def artifacts_bucket(self) -> str:
        return self.bucket("ai-artifacts")
