"""The append-only, hash-chained audit trail. Imports only `core`."""
