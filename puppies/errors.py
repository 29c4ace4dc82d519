"""The platform's exception hierarchy."""


class PuppiesError(Exception):
    """Base of every error raised by the platform package."""


class ConfigError(PuppiesError):
    """A setting is missing or invalid; the message names it."""


class ServiceStartError(PuppiesError):
    """An embedded service or a process could not start; the message says why."""


class StopRequested(ServiceStartError):
    """A stop (SIGINT/SIGTERM) arrived while something was starting."""


class PortInUseError(ServiceStartError):
    def __init__(self, port: int, what: str) -> None:
        super().__init__(f"port {port} ({what}) is already in use; stop what holds it or change it")
        self.port = port
        self.what = what


class AuthError(PuppiesError):
    """A credential was refused. `code` is the GraphQL extensions code to report."""

    def __init__(self, message: str, code: str = "UNAUTHENTICATED") -> None:
        super().__init__(message)
        self.code = code
