"""The subgraphs' per-request cost on the mix's subgraph operations, in-process, side by side.

    .venv/bin/python -m bench.mixed.core [--runs 200] [--users 2000] [--profile posts]

On the seeded data of `python -m bench.mixed` (same --data-dir), with each subgraph's app
built in this process (its lifespan run: database, Redis, loaders), every subgraph
operation the router sends for the mix's reads (from `puppies plan`) is run three ways,
each `--runs` times, alternating, CPU time per run (time.process_time):

- http: the whole ASGI app as uvicorn calls it (FastAPI routing, the context getter with
  the router's signed principal, Strawberry's view, JSON in and out), no socket;
- strawberry: `schema.execute` with a context built like the context getter's;
- graphql-core: `graphql.execute` of the same parsed document on the GraphQLSchema Strawberry
  built (same field resolvers and DataLoaders: what Strawberry adds per request is the
  difference between this and `strawberry`);
- bare: the same, with every field's resolver swapped (for these runs only) for a plain
  graphql-core resolver: an attribute read for a data field, a direct call of the Python
  method (with the context) for a resolver field, `resolve_reference` called directly for
  `_entities`: what graphql-core itself costs on the same operations and resolvers, without
  Strawberry's per-field path (its Info, argument conversion, extension chain);
- bare http: bare graphql-core behind the least an HTTP entry must do, called as `http` is
  (the same ASGI scope, body and principal header): read the body, `orjson.loads` it,
  parse and validate the query once per distinct text (a dict), the viewer from the
  router's principal (the same cached verifier), a context with its DataLoaders, execute
  with the bare resolvers, `orjson.dumps` of `{data, errors}`, one response start and body.
  No middleware, no request id, metrics, response hints or error codes: `http / bare http`
  is what our whole entry and Strawberry cost over the minimum, on the same terms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import inspect
import pstats
import random
import time
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from graphql import execute, parse, validate

from bench.analytics.stack import stack
from puppies.auth import Viewer
from puppies.auth.principal import _kid
from puppies.settings import DEV_ROUTER_PRINCIPAL_SECRET
from subgraphs.common.context import RequestContext

ENTITIES = "query($representations: [_Any!]!) { _entities(representations: $representations) "
OPS: dict[str, list[tuple[str, str, str]]] = {
    # subgraph -> (name, query, variables kind)
    "feed": [
        (
            "feed: Home__feed__0",
            "query Home__feed__0 { feed(first: 20) { edges { cursor node { id __typename } } "
            "pageInfo { hasNextPage endCursor } } }",
            "none",
        )
    ],
    "posts": [
        (
            "posts: 20 Post entities (home feed)",
            ENTITIES + "{ ... on Post { text createdAt likeCount viewerHasLiked "
            "author { __typename _fed_id: id } } } }",
            "posts",
        ),
        (
            "posts: PostDetail__posts__0",
            "query PostDetail__posts__0($id: ID!) { post(id: $id) { id text createdAt likeCount "
            "viewerHasLiked commentCount author { id __typename } media { id status url } "
            "comments(first: 20) { edges { node { id text createdAt author { id __typename } } } "
            "pageInfo { hasNextPage endCursor } } } }",
            "post",
        ),
    ],
    "users": [
        (
            "users: 20 User entities (home feed)",
            ENTITIES + "{ ... on User { username displayName } } }",
            "users",
        ),
        (
            "users: Profile__users__0",
            "query Profile__users__0($id: ID!) { user(id: $id) { id username displayName bio "
            "followerCount followingCount viewerFollows followers(first: 20) { edges { node "
            "{ id username displayName } } pageInfo { hasNextPage endCursor } } } }",
            "user",
        ),
        (
            "users: me",
            "query Me__users__0 { me { id username displayName followerCount followingCount } }",
            "none",
        ),
    ],
}


class _BareInfo:
    """What the project's resolvers read from `info`: the context."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def _bare_resolver(sfield: Any) -> Any:
    from operator import attrgetter

    if sfield.base_resolver is None:
        get = attrgetter(sfield.python_name)
        return lambda source, info, **kw: get(source)
    fn = sfield.base_resolver.wrapped_func
    params = list(inspect.signature(fn).parameters)
    wants_info = "info" in params
    takes_source = bool(params) and params[0] in ("self", "root")
    snake = {a.graphql_name or a.python_name: a.python_name for a in sfield.arguments}

    def resolve(source: Any, info: Any, **kw: Any) -> Any:
        args = {snake.get(k, k): v for k, v in kw.items()}
        if wants_info:
            args["info"] = _BareInfo(info.context)
        return fn(source, **args) if takes_source else fn(**args)

    return resolve


def _bare_entities(schema: Any) -> Any:
    refs: dict[str, Any] = {}
    for name, t in schema.schema_converter.type_map.items():
        origin = getattr(t.definition, "origin", None)
        if origin is not None and hasattr(origin, "resolve_reference"):
            refs[name] = origin.resolve_reference

    def resolve(source: Any, info: Any, representations: list[dict[str, Any]]) -> Any:
        bare = _BareInfo(info.context)
        out = []
        for rep in representations:
            kwargs = {k: v for k, v in rep.items() if k != "__typename"}
            out.append(refs[rep["__typename"]](info=bare, **kwargs))
        return out

    return resolve


@contextlib.contextmanager
def bare_resolvers(schema: Any) -> Any:
    """Swap every field resolver of Strawberry's GraphQLSchema for a plain one, then back."""
    from graphql import GraphQLObjectType

    saved: list[tuple[Any, Any]] = []
    for name, gtype in schema._schema.type_map.items():
        if name.startswith("__") or not isinstance(gtype, GraphQLObjectType):
            continue
        for fname, gfield in gtype.fields.items():
            sfield = (gfield.extensions or {}).get("strawberry-definition")
            saved.append((gfield, gfield.resolve))
            if name == "Query" and fname == "_entities":
                gfield.resolve = _bare_entities(schema)
            elif sfield is not None:
                gfield.resolve = _bare_resolver(sfield)
    try:
        yield
    finally:
        for gfield, resolve in saved:
            gfield.resolve = resolve


def principal_header(user_id: int) -> str:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    now = int(time.time())
    claims = {
        "iss": "puppies-router",
        "aud": "puppies-subgraphs",
        "iat": now,
        "exp": now + 3600,
        "kind": "user",
        "sub": str(user_id),
        "uid": str(user_id),
    }
    header = {"alg": "HS256", "kid": _kid(DEV_ROUTER_PRINCIPAL_SECRET), "typ": "JWT"}
    key = OctKey.import_key(DEV_ROUTER_PRINCIPAL_SECRET.encode())
    return jwt.encode(header, claims, key, algorithms=["HS256"])


async def asgi_post(app: Any, body: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 4002),
        "state": {},
    }
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


class BareHTTP:
    """Bare graphql-core behind a minimal ASGI entry (the module docstring's `bare http`);
    its schema's resolvers are the bare ones while it runs (see `_Op.cpu`)."""

    def __init__(self, app: FastAPI, schema: Any) -> None:
        self.state = app.state
        self.gschema = schema._schema
        self.header = app.state.resources.settings.router_principal_header.encode()
        self.documents: dict[str, Any] = {}

    def document(self, query: str) -> Any:
        doc = self.documents.get(query)
        if doc is None:
            doc = parse(query)
            assert not validate(self.gschema, doc)
            self.documents[query] = doc
        return doc

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = orjson.loads(body)
        token = next(v for k, v in scope["headers"] if k == self.header)
        viewer = self.state.principals.verify(token.decode()).viewer
        context = RequestContext(self.state.resources, viewer, self.state.make_loaders)
        result = execute(
            self.gschema,
            self.document(data["query"]),
            variable_values=data.get("variables"),
            operation_name=data.get("operationName"),
            context_value=context,
        )
        if inspect.isawaitable(result):
            result = await result
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": orjson.dumps(out)})


RUNS = ("http", "straw", "core", "bare", "barehttp")


class _Op:
    """One subgraph operation, run the four ways with fresh variables each time."""

    def __init__(
        self,
        app: FastAPI,
        schema: Any,
        query: str,
        kind: str,
        ids: dict[str, list[int]],
        viewer_id: int,
        rng: random.Random,
    ) -> None:
        self.app, self.schema, self.query, self.kind = app, schema, query, kind
        self.ids, self.rng = ids, rng
        self.doc = parse(query)
        self.principal = principal_header(viewer_id).encode()
        self.viewer = Viewer(user_id=viewer_id, kind="user")
        self.bare_http = BareHTTP(app, schema)

    def variables(self) -> dict[str, Any]:
        pick = self.rng.sample
        if self.kind in ("posts", "users"):
            typename = "Post" if self.kind == "posts" else "User"
            chosen = pick(self.ids[self.kind], 20)
            return {"representations": [{"__typename": typename, "id": str(i)} for i in chosen]}
        if self.kind in ("post", "user"):
            return {"id": str(self.rng.choice(self.ids[self.kind]))}
        return {}

    def context(self) -> RequestContext[Any]:
        state = self.app.state
        return RequestContext(state.resources, self.viewer, state.make_loaders)

    async def cpu(self, key: str) -> float:
        """CPU milliseconds of one run (the bare resolvers are swapped in untimed)."""
        bare = key in ("bare", "barehttp")
        with bare_resolvers(self.schema) if bare else contextlib.nullcontext():
            t = time.process_time()
            await self.run(key)
            return (time.process_time() - t) * 1000

    async def run(self, key: str) -> None:
        if key in ("http", "barehttp"):
            body = orjson.dumps({"query": self.query, "variables": self.variables()})
            app = self.app if key == "http" else self.bare_http
            out = await asgi_post(app, body, [(b"x-puppies-principal", self.principal)])
            assert b'"errors"' not in out, out[:300]
            return
        if key == "straw":
            r = await self.schema.execute(
                self.query, self.variables(), context_value=self.context()
            )
        elif key == "core":
            r = await _execute(self.schema, self.doc, self.variables(), self.context())
        else:  # "bare": inside bare_resolvers (cpu() or the warm-up below)
            r = await _execute(self.schema, self.doc, self.variables(), self.context())
        assert not r.errors, r.errors


async def _execute(schema: Any, doc: Any, variables: dict[str, Any], context: Any) -> Any:
    result = execute(schema._schema, doc, variable_values=variables, context_value=context)
    return await result if inspect.isawaitable(result) else result


async def run(args: argparse.Namespace, st_env: dict[str, str], dsn: str) -> list[str]:
    import os

    os.environ.update(st_env)
    from puppies.settings import load_settings

    conn = await asyncpg.connect(dsn)
    try:
        users = [r["id"] for r in await conn.fetch("SELECT id FROM users.users LIMIT 500")]
        posts = [
            r["id"]
            for r in await conn.fetch("SELECT id FROM posts.posts ORDER BY id DESC LIMIT 500")
        ]
        hot = [
            r["post_id"]
            for r in await conn.fetch(
                "SELECT post_id FROM posts.comments GROUP BY post_id "
                "ORDER BY count(*) DESC LIMIT 50"
            )
        ]
    finally:
        await conn.close()
    rng = random.Random(3)
    lines = [
        "| subgraph operation | http (ASGI) | strawberry | graphql-core, Strawberry's resolvers "
        "| bare graphql-core | bare graphql-core, http | strawberry / bare "
        "| http / bare | http / bare http |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sub in args.subgraphs.split(","):
        module = __import__(f"subgraphs.{sub}.app", fromlist=["create_app"])
        app: FastAPI = module.create_app(load_settings())
        async with app.router.lifespan_context(app):
            schema = __import__(f"subgraphs.{sub}.schema", fromlist=["schema"]).schema
            for name, query, kind in OPS[sub]:
                ids = {"posts": posts, "users": users, "post": hot or posts, "user": users}
                op = _Op(app, schema, query, kind, ids, rng.choice(users), rng)
                for key in RUNS:  # warm up
                    for _ in range(5):
                        await op.cpu(key)
                times: dict[str, list[float]] = {key: [] for key in RUNS}
                prof = cProfile.Profile() if sub in args.profile else None
                for _ in range(args.runs):
                    for key in RUNS:
                        if prof and key == "http":
                            prof.enable()
                        times[key].append(await op.cpu(key))
                        if prof and key == "http":
                            prof.disable()
                med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
                lines.append(
                    f"| {name} | {med['http']:.2f} | {med['straw']:.2f} | {med['core']:.2f} "
                    f"| {med['bare']:.2f} | {med['barehttp']:.2f} "
                    f"| {med['straw'] / med['bare']:.2f}x | {med['http'] / med['bare']:.2f}x "
                    f"| {med['http'] / med['barehttp']:.2f}x |"
                )
                print(lines[-1], flush=True)
                if prof:
                    pstats.Stats(prof).sort_stats(args.sort).print_stats(40)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.mixed.core")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--users", type=int, default=2000, help="the bench.mixed graph to use")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--subgraphs", default="posts,users,feed")
    ap.add_argument("--profile", default="", help="subgraphs whose http runs are profiled")
    ap.add_argument("--sort", default="tottime", help="how profiles are sorted (pstats keys)")
    args = ap.parse_args()
    data_dir = (args.data_dir or Path(f"/tmp/puppies-bench-mixed-{args.users}")).resolve()
    if not (data_dir / "seeded.json").exists():
        raise SystemExit(
            f"{data_dir} is not seeded: run python -m bench.mixed --users {args.users} first"
        )
    with stack(data_dir) as st:
        url = st.settings.database_url
        assert url
        env = {k: v for k, v in st.env.items() if k.isupper()}
        env["JWKS_URL"] = "http://127.0.0.1:9/.well-known/jwks.json"  # never used: principals
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args, env, url.replace("postgresql+asyncpg://", "postgresql://")))


if __name__ == "__main__":
    main()
