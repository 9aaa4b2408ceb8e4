"""The bytes Starlette's ``JSONResponse`` writes for a value.

Responses the API builds without ariadne (a re-rendered seat map, a refused hold) must be the
bytes ariadne's handler would have written, so a client cannot tell which path answered.
"""

from __future__ import annotations

import json
from typing import Any


def json_bytes(content: Any) -> bytes:
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
