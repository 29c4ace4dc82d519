"""Token primitives shared by every process: access JWTs, JWKS, API keys, the viewer.

- `keys.KeyRing`: the users process's ES256 signing keys on disk, their JWKS, rotation.
- `tokens`: issue and verify access JWTs (joserfc, the successor of authlib.jose).
- `jwks.RemoteJWKS`: other processes' cached copy of the users subgraph's JWKS.
- `apikeys`: partner API keys (`pk_<prefix>_<secret>`), hashing and verification.
- `viewer.Authenticator`: `Authorization` header -> `Viewer`.
"""

from puppies.auth.errors import AuthError
from puppies.auth.viewer import ANONYMOUS, Authenticator, Viewer

__all__ = ["ANONYMOUS", "AuthError", "Authenticator", "Viewer"]
