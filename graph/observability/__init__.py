"""The router's operations: logs, traces, metrics, readiness (configured from router.yaml's
``telemetry`` and ``health_check``, Apollo Router's keys; graph/ stands alone, so this is
the router's own, not the platform's puppies/observability)."""
