"""Authentication at the router: access JWTs against JWKS, API keys resolved by the users
subgraph (cached, revoked through Redis pub/sub), and the signed principal the router
forwards to subgraphs. The stage that uses them is graph/plugins/authentication.py."""
