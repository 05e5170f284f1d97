"""The browser tests' live server under ASGI: shopsite.asgi's application (the live endpoints and
the async pools' lifespan in front of Django's ASGI handler) served by uvicorn, as production's
uvicorn worker serves it, in a thread of the test process, on the test database."""

from __future__ import annotations

import threading
import time

import uvicorn
from django.core.asgi import get_asgi_application
from django.test.utils import modify_settings

from shopsite.live import asgi

START_SECONDS = 30  # a bound on a busy machine; started is usually a matter of milliseconds


class AsgiLiveServer:
    """What pytest-django's `live_server` gives (`url`, its settings change), served under ASGI."""

    host = "127.0.0.1"

    def __init__(self):
        config = uvicorn.Config(asgi(get_asgi_application()), host=self.host, port=0, lifespan="on",
                                log_level="warning", loop="asyncio")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-live-server", daemon=True)
        # `_live_server_modified_settings`: pytest-django's helper enables it around each test.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": self.host})
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)  # a poll interval, bounded by the deadline
        if not self.server.started:
            raise RuntimeError("uvicorn did not start: its errors are above")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_SECONDS)

    def __str__(self) -> str:
        return self.url
