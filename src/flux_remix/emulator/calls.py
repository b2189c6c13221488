"""A bounded log of the calls the emulator answered, for tests to inspect."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime


@dataclass(frozen=True)
class CallRecord:
    """One answered call: who, which model, what was sent (field names only), the outcome.

    ``endpoint`` is the request path, e.g. ``/client/v4/accounts/<id>/ai/run/@cf/...``.
    """

    at: datetime
    endpoint: str
    account_id: str
    model: str
    content_kind: str
    fields: tuple[str, ...]
    status: int
    code: int | None
    neurons: float
    fault: str | None = None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["fields"] = list(self.fields)
        return data


class CallLog:
    """The last ``size`` calls, oldest first."""

    def __init__(self, size: int = 1000) -> None:
        self._records: deque[CallRecord] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
