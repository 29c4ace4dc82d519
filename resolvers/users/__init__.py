"""The users domain: accounts, sessions, follows, API keys (see docs/users.md)."""
