"""Plumbing shared by the HAPI FHIR and OpenEMR stand-ins.

A stand-in is an `Emulator` subclass (emulator.py): a route table (routing.py), a SQLite schema (store.py),
a seed and an error shape. serving.py serves it over HTTP (a thread per connection); each request runs
inside one SQLite transaction (a request that fails leaves nothing behind, which is also how a FHIR
transaction gets its all-or-nothing rule). The test-only endpoints under /__control__/ that no real
server has (faults, settings, clock and reset) steer the run-time state of state.py. smart.py holds the
SMART on FHIR scope checks and the OAuth2 error shape both servers use; messages.py the requests and
answers (HTTP messages).
"""


def words(text: str) -> list[str]:
    """The whitespace-separated words of `text`; keeps long constant lists readable."""
    return text.split()
