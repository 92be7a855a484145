"""The SDK's exceptions."""


class NotStartedByVhostd(RuntimeError):
    """Raised by Worker() when the process was not started by vhostd."""


class CallError(Exception):
    """Worker.call() got an error instead of a result: the singleton's (its handler raised),
    vhostd's (no singleton ready, no reply in time) or the SDK's (the channel closed)."""

    def __init__(self, method: str, error: str):
        super().__init__(error)
        self.method = method
        self.error = error
