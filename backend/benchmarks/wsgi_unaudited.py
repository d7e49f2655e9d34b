"""The API with its audit writes switched off: the baseline of benchmarks/audit_overhead.py --via http only.

Never served by the product; gunicorn loads it in place of cdss.wsgi for the benchmark's second server.
"""

from cdss.wsgi import application  # sets Django up, so the import below can load its models


def _switch_audit_off() -> None:
    from audit.client import AuditClient

    AuditClient.log_event = staticmethod(lambda *args, **kwargs: None)


_switch_audit_off()
__all__ = ["application"]
