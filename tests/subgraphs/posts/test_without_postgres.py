"""With PostgreSQL down (nothing listens where it was), the posts subgraph refuses what
needs it with SERVICE_UNAVAILABLE and a message naming PostgreSQL (it used to say "A
backing service": the driver's refused connection carried no name)."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import make_url

from puppies.auth.keys import KeyRing
from puppies.auth.tokens import LocalKeys
from puppies.embedded import free_port
from puppies.settings import Settings
from subgraphs.posts.app import create_app
from tests.subgraphs.posts.conftest import PostsClient
from tests.subgraphs.posts.test_likes_api import LIKE, POST
from tests.support.servers import serve_asgi


async def test_a_request_refused_while_postgres_is_down_names_it(clean: Settings) -> None:
    assert clean.database_url
    gone = make_url(clean.database_url).set(port=free_port())
    settings = clean.model_copy(update={"database_url": gone.render_as_string(hide_password=False)})
    ring = KeyRing(settings.keys_dir).load()
    app = create_app(settings, key_source=lambda resources: LocalKeys(ring))
    async with serve_asgi(app) as url, httpx.AsyncClient(timeout=30) as http:
        api = PostsClient(url=url, http=http, keyring=ring, settings=settings, app=app)
        for query, user in ((POST, None), (POST, 7), (LIKE, 7)):
            body = await api.gql(query, {"id": "1"}, user=user)
            codes = [e["extensions"]["code"] for e in body["errors"]]
            assert codes == ["SERVICE_UNAVAILABLE"], body
            message = body["errors"][0]["message"]
            assert message.startswith("PostgreSQL is unavailable for the moment"), message
