"""Distributed rate limits and quotas: the Redis side (one Lua round trip per request,
Cluster-safe keys) and the IETF RateLimit headers. The stage is
graph/plugins/rate_limits.py."""
