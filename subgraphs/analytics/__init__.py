"""The analytics subgraph: Strawberry types and the ASGI app.

Every field calls into resolvers.analytics.
"""
