"""Admissions: the waiting room's signed, short-lived permission to hold seats of one event.

An admission is a compact JWT (HS256) naming the buyer (``sub``), the event (``evt``) and the
queue position it was given for (``pos``), valid until the turn's deadline (``exp``). The hold
path checks it with one HMAC and no I/O (``api/hold.py``).

It never stands in for a sign-in token or a ticket, nor they for it: its key is derived from
``JWT_SECRET`` with HKDF-SHA256 under its own label, it carries ``aud: "adm"`` (a sign-in token
has no audience, and PyJWT refuses an audience where none is expected) and the header
``typ: "ADM"``. It is deterministic (no issue time): a buyer who asks again during the same
turn gets the same admission, so the bench can count turns by distinct admissions.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from domain.tickets import derive_key

AUDIENCE = "adm"
TOKEN_TYPE = "ADM"
ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 512  # anything longer is not one of ours: refused before parsing
_HKDF_INFO = b"waiting-room-admission-v1"


@dataclass(frozen=True)
class Admission:
    user_id: str
    event_id: str
    position: int
    expires_at: int  # epoch seconds: the end of the turn


class AdmissionSigner:
    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, _HKDF_INFO)

    def issue(self, admission: Admission) -> str:
        claims = {
            "sub": admission.user_id,
            "evt": admission.event_id,
            "pos": admission.position,
            "exp": admission.expires_at,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE})

    def read(self, token: object) -> Admission | None:
        """The admission if ``token`` is one of ours and unexpired, else None."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            if jwt.get_unverified_header(token).get("typ") != TOKEN_TYPE:
                return None
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["exp", "sub", "evt", "aud"]},
            )
        except jwt.PyJWTError:
            return None
        position = claims.get("pos")
        if not isinstance(position, int) or not isinstance(claims["evt"], str):
            return None
        return Admission(str(claims["sub"]), claims["evt"], position, int(claims["exp"]))

    def admits(self, token: object, user_id: str, event_id: str) -> bool:
        """Whether ``token`` lets ``user_id`` hold seats of ``event_id`` now."""
        admission = self.read(token)
        return (
            admission is not None
            and admission.user_id == user_id
            and admission.event_id == event_id
        )
