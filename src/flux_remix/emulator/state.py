"""The mutable state of one emulator: ledger, faults, call log, image cache.

:class:`EmulatorState` is reachable in-process as ``app.state.emulator`` (and
``EmulatorServer.state``); the ``/__emulator__/`` admin routes call the same methods.
"""

from __future__ import annotations

from typing import Any

from flux_remix.emulator.calls import CallLog, CallRecord
from flux_remix.emulator.config import EmulatorConfig
from flux_remix.emulator.envelopes import Reply
from flux_remix.emulator.faults import FaultBook, FaultSpec
from flux_remix.emulator.images import ImageRenderer
from flux_remix.emulator.ledger import NeuronLedger
from flux_remix.emulator.models import ModelTable, build_table
from flux_remix.emulator.payload import Payload


class EmulatorState:
    """Control surface for tests: faults, neuron usage, call log, reset."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.models: ModelTable = build_table(
            schnell_accepts_seed=config.schnell_accepts_seed, preview=config.preview_models
        )
        self.ledger = NeuronLedger(config.daily_neurons, config.clock)
        self.fault_book = FaultBook(config.seed)
        self.call_log = CallLog(config.call_log_size)
        self.renderer = ImageRenderer(config.image_cache_size)

    # faults
    def add_fault(self, spec: FaultSpec | dict[str, Any] | None = None, **fields: Any) -> str:
        """Register a fault (a :class:`FaultSpec`, a dict, or keyword fields); returns its id."""
        if not isinstance(spec, FaultSpec):
            spec = FaultSpec.model_validate({**(spec or {}), **fields})
        return self.fault_book.add(spec)

    def remove_fault(self, fault_id: str) -> bool:
        return self.fault_book.remove(fault_id)

    def clear_faults(self) -> int:
        """Remove every fault; returns how many there were."""
        return self.fault_book.clear()

    def faults(self) -> list[dict[str, object]]:
        return self.fault_book.listing()

    # ledger
    def used(self, account_id: str) -> float:
        """Neurons the account has used today (UTC)."""
        return self.ledger.used(account_id)

    def set_used(self, account_id: str, neurons: float) -> None:
        self.ledger.set_used(account_id, neurons)

    def ledger_snapshot(self) -> dict[str, object]:
        used = {account: 0.0 for account in self.config.accounts}
        used.update(self.ledger.all_used())
        return {
            "day": self.ledger.today().isoformat(),
            "daily_neurons": self.ledger.cap,
            "resets_at": self.ledger.resets_at().isoformat(),
            "used": used,
        }

    # call log
    def calls(self) -> list[CallRecord]:
        return self.call_log.records()

    def clear_calls(self) -> None:
        self.call_log.clear()

    def record(
        self,
        *,
        endpoint: str,
        account_id: str,
        model: str,
        payload: Payload | None,
        reply: Reply,
        fault: str | None = None,
    ) -> None:
        self.call_log.add(
            CallRecord(
                at=self.config.clock(),
                endpoint=endpoint,
                account_id=account_id,
                model=model,
                content_kind=payload.kind if payload else "unread",
                fields=payload.field_names if payload else (),
                status=reply.status,
                code=reply.code,
                neurons=reply.neurons,
                fault=fault,
            )
        )

    def reset(self) -> None:
        """Forget faults (and reseed their RNG), usage, calls and cached images."""
        self.fault_book.reset()
        self.ledger.reset()
        self.call_log.clear()
        self.renderer.clear()
