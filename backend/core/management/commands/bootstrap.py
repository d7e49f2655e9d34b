"""Declare what the system expects to exist outside the database. Safe to run any number of times."""

from django.core.management.base import BaseCommand

from core.messaging.topology import WORK_QUEUES, declare_topology
from core.storage import ensure_buckets


class Command(BaseCommand):
    help = "Declare the RabbitMQ topology and create the object storage buckets (idempotent)."

    def handle(self, *args, **options):
        declare_topology()
        self.stdout.write(f"RabbitMQ topology declared: cdss.topic, cdss.dlx, {len(WORK_QUEUES)} queues + DLQs")
        created = ensure_buckets()
        self.stdout.write(f"object storage buckets ready (created: {', '.join(created) or 'none'})")
