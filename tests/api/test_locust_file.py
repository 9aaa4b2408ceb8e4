"""The locust file (``load-tests/seat_locking.py``) drives the benchmark's buyer against a real
API: a headless run that must make every kind of call and count no failure."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


async def test_a_headless_locust_run_buys_through_the_api_without_failures(
    live_server: str, api_worker: None, event_factory: Any, tmp_path: Path
) -> None:
    event = event_factory(seats=40)
    env = {**os.environ, "EVENT_ID": str(event.id), "ABANDON_SHARE": "0", "DECLINE_SHARE": "0"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "load-tests" / "seat_locking.py"),
        "--headless",
        "--users",
        "4",
        "--spawn-rate",
        "4",
        "--run-time",
        "10s",
        "--stop-timeout",
        "20",  # buyers finish the purchase they are in before the run ends
        "--host",
        f"http://{live_server}",
        "--csv",
        str(tmp_path / "run"),
        "--only-summary",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    # The API runs in this event loop, so the run is awaited, never waited on blocking.
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()[-3000:]
    with open(tmp_path / "run_stats.csv", newline="") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    for step in ("register", "seat_map", "hold", "pay"):
        assert int(rows[step]["Request Count"]) > 0, (step, rows.keys())
    assert int(rows["Aggregated"]["Failure Count"]) == 0, output.decode()[-3000:]
