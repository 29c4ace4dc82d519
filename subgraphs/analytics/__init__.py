"""The analytics subgraph: Strawberry types and the ASGI app; every field calls into resolvers.analytics."""
