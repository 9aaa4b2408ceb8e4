"""A scripted backend for the backend watch's tests: answers its probe while ``up``."""

from __future__ import annotations

import asyncio


class ScriptedBackend:
    """Answers while ``up``, refuses the connection otherwise; every probe is counted."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0
        self.probed = asyncio.Event()

    async def check(self, _timeout_seconds: float) -> None:
        self.probes += 1
        self.probed.set()
        if not self.up:
            raise ConnectionRefusedError("refused")

    async def probed_again(self, times: int = 1) -> None:
        for _ in range(times):
            self.probed.clear()
            await self.probed.wait()
