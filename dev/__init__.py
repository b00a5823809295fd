"""Development tooling, never imported by production code: the `make run` launcher, the embedded
servers, the demo data, the development Celery transport and the pytest plugin."""
