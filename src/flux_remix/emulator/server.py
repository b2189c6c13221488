"""Serving the emulator: in a background thread for tests, or in the foreground for a CLI."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from flux_remix.emulator.app import create_emulator_app
from flux_remix.emulator.config import EmulatorConfig
from flux_remix.emulator.state import EmulatorState


class EmulatorServer:
    """The emulator on ``127.0.0.1`` and a free port, served by uvicorn in a daemon thread.

    Use as a context manager or call :meth:`start`/:meth:`stop`. ``base_url`` is the
    ``/client/v4`` root a Cloudflare client points at; ``state`` reaches the live
    :class:`EmulatorState` in-process.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self.config = config or EmulatorConfig.demo()
        self.app = create_emulator_app(self.config)
        self.host = host
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    @property
    def state(self) -> EmulatorState:
        state: EmulatorState = self.app.state.emulator
        return state

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/client/v4"

    def start(self) -> EmulatorServer:
        """Bind, serve in a thread, and return once the port answers."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._socket = sock
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="cf-emulator", daemon=True
        )
        self._thread.start()
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError("the emulator server thread exited during startup")
            if self._server is not None and self._server.started and self._port_answers():
                return
            time.sleep(0.01)
        self.stop()
        raise TimeoutError(f"the emulator did not start within {self._startup_timeout} s")

    def _port_answers(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for the thread (safe to call twice)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def describe(config: EmulatorConfig, base_url: str) -> str:
    """A human-readable summary of what an emulator serves, for the CLI."""
    lines = [
        "Cloudflare Workers AI emulator (images are procedural: EMULATED — not AI)",
        f"  base URL:       {base_url}",
        f"  daily neurons:  {config.daily_neurons:,.0f} per account",
        f"  quota code:     {config.quota_code}",
        "  accounts (account_id  token):",
    ]
    lines += [f"    {account}  {token}" for account, token in config.accounts.items()]
    lines.append("  control:        " + base_url.removesuffix("/client/v4") + "/__emulator__/")
    return "\n".join(lines)


def run(host: str = "127.0.0.1", port: int = 8787, config: EmulatorConfig | None = None) -> None:
    """Serve the emulator in the foreground until interrupted (``flux-remix emulator``)."""
    config = config or EmulatorConfig.demo()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    print(describe(config, f"http://{shown_host}:{port}/client/v4"), flush=True)
    uvicorn.run(create_emulator_app(config), host=host, port=port, log_level="info")
