"""Stand-in HAPI FHIR and OpenEMR servers, and the S3 stand-in (moto with our accounts), for tests and local
runs (see README.md).

Product code never imports this package; it imports nothing from the Django project.
"""
