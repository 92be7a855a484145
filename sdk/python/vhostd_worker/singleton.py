"""The site's singleton process: serve_singleton()."""

from __future__ import annotations

from typing import Optional

from .sockets import log
from .worker import Worker


def serve_singleton(methods: Optional[dict] = None, *, on_message=None, on_task=None,
                    worker: Optional[Worker] = None, threads: int = 8) -> None:
    """Runs this process as the site's singleton (VHOSTD_ROLE=singleton), which gets no
    connections: says ready, sends heartbeats, and answers the workers' calls with `methods`,
    {name: handler(args, sender)}, whose return value is the result and whose exception is
    the caller's error; an unknown method is an error too. Calls run on a pool of `threads`
    threads. on_message(data, sender) and on_task(name), if given, are registered on the
    worker. Returns after vhostd drains the process or goes away, once the calls in
    progress are answered. Pass your own Worker to send() from other threads or to say
    ready later."""
    worker = worker or Worker()
    for name, handler in (methods or {}).items():
        worker.on_call(name, handler)
    if on_message is not None:
        worker.on_message(on_message)
    if on_task is not None:
        worker.on_task(on_task)
    worker._call_threads = threads

    def refuse(sock, info):
        log(f"vhostd: the singleton was handed connection {info.id}; closing it")

    worker.serve(refuse)
