# One image for every process of the stack:
#   docker run IMAGE serve router --supergraph supergraph.graphql --config router.production.yaml
#   docker run IMAGE serve users|posts|feed|analytics
#   docker run IMAGE worker
#   docker run IMAGE migrate
# It uses external PostgreSQL, Redis and S3: set DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL
# (the embedded dev services are not installed in the image). Across containers also set
# JWKS_URL (where the router and subgraphs fetch the users subgraph's public keys),
# JWT_KEYS_DIR on the users subgraph (a volume with its signing keys), ENVIRONMENT=production
# and ROUTER_PRINCIPAL_SECRET on every process, and on the router USERS_URL, POSTS_URL,
# FEED_URL, ANALYTICS_URL (defaults: the docker-compose service names) or a router.yaml of
# your own.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md requirements-prod.lock ./
COPY graph ./graph
COPY subgraphs ./subgraphs
COPY resolvers ./resolvers
COPY models ./models
COPY workers ./workers
COPY puppies ./puppies
COPY migrations ./migrations
# The runtime packages at the versions the tests passed with (hash-checked), then puppies.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements-prod.lock \
    && /opt/venv/bin/pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HOST=0.0.0.0
RUN useradd --system --uid 10001 --no-create-home puppies
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# router.production.yaml is the default (introspection off, subgraph errors redacted, no
# IDE, authentication, rate limits; it needs REDIS_URL and ROUTER_PRINCIPAL_SECRET);
# router.yaml is the development config, for `--config router.yaml`.
COPY router.production.yaml router.yaml supergraph.graphql ./
# the web client that router.yaml's static_files serves at /app
COPY web ./web
# the data directory a volume can be mounted on (docker-compose.yml keeps JWT keys there)
RUN mkdir -p /app/.puppies && chown puppies:puppies /app/.puppies
USER puppies
EXPOSE 4000 4001 4002 4003 4004 4005
ENTRYPOINT ["puppies"]
CMD ["serve", "router", "--supergraph", "supergraph.graphql", "--config", "router.production.yaml"]
