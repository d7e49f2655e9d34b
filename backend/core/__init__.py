"""The platform layer: health and readiness, metrics, RabbitMQ topology and publishing, object storage.

It imports no domain app; every domain app may import it.
"""
