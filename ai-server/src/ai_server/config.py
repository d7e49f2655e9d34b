"""Settings from the environment (prefix AI_), validated at start-up."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AI_", extra="ignore")

    service_name: str = "cdss-ai-server"
    # Fraction of GPU memory this process may take, when a GPU is present (the AI issue applies it).
    gpu_memory_limit: float = 0.9
