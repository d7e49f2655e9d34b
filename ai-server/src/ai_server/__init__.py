"""The CDSS AI inference service. Shares no code with the backend: they talk over RabbitMQ and HTTP."""
