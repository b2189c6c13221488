"""A faithful local emulator of the Cloudflare Workers AI REST API (contract §9).

It has its own model table, neuron ledger and fault injection, so tests and the offline
demo exercise the app's real HTTP client against Cloudflare's envelopes and quirks::

    with EmulatorServer(EmulatorConfig.demo()) as emu:
        httpx.post(f"{emu.base_url}/accounts/{acct}/ai/run/@cf/black-forest-labs/flux-1-schnell",
                   headers={"Authorization": "Bearer demo-token-1"}, json={"prompt": "a cat"})
        emu.state.add_fault(kind="capacity", count=1)
"""

from flux_remix.emulator.app import create_emulator_app
from flux_remix.emulator.config import EmulatorConfig
from flux_remix.emulator.faults import FaultSpec
from flux_remix.emulator.server import EmulatorServer, run
from flux_remix.emulator.state import EmulatorState

__all__ = [
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorState",
    "FaultSpec",
    "create_emulator_app",
    "run",
]
