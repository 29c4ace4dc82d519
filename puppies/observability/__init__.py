"""Operations for every process of the platform: logs, traces, metrics and health.

- `context`: the request id and trace ids of the work in progress (contextvars).
- `logs`: one JSON object per line in production, human lines in development.
- `tracing`: OpenTelemetry, configured by the standard `OTEL_*` environment variables.
- `metrics`: prometheus_client metrics (multiprocess mode when a server runs several
  processes) and the `/metrics` rendering.
- `health`: Apollo Router's `/health` and `/health?ready` answers.
- `asgi`: the middleware every subgraph app runs behind (request id, HTTP metrics, spans).
"""
