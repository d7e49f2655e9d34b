"""JSON, not pickle, for everything the CDSS keeps in Redis (cache and sessions; docs/security.md, "Redis").

Django's Redis cache pickles values by default, and unpickling runs code: whoever can write a key (any
process that reaches Redis) could run code in a web worker. Values here are JSON text, integers stay raw
(so that incr/decr keep working), and anything else read back is refused, never executed.
"""

import json


class JsonSerializer:
    """The `serializer` option of Django's RedisCache (CACHES["default"]["OPTIONS"])."""

    def dumps(self, value):
        if type(value) is int:  # bool is not stored raw: it must come back as a bool
            return value
        return json.dumps(value, separators=(",", ":")).encode()

    def loads(self, data: bytes):
        try:
            return int(data)
        except ValueError:
            return json.loads(data)  # ValueError for a pickle or anything else that is not JSON
