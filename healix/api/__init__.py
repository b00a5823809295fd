"""The REST toolkit every app's api/ uses: key auth, scopes, problem details, idempotency,
throttling, pagination, parsers, OpenAPI hooks."""
