"""The router's request pipeline and its transports.

- ``request``: the transport-independent :class:`~graph.serving.request.RouterRequest` and
  the :class:`~graph.serving.request.Principal`.
- ``stage``: the stage contract (the hooks a plugin implements).
- ``pipeline``: the stages in order, run for every request of every transport.
- ``transports``: thin adapters (GraphQL over HTTP, server-sent events, graphql-transport-ws)
  that turn the wire into a ``RouterRequest`` and the pipeline's outcome into the wire.

This package's ``__init__`` imports nothing, so plugins can import the stage contract
without importing the pipeline that imports them.
"""
