"""Ticket tokens: bound to booking, seat and event; unforgeable; never a sign-in token."""

from __future__ import annotations

import base64
import json
import uuid

import jwt
import pytest
import segno

from api.auth import TokenService
from domain.tickets import AUDIENCE, MAX_TOKEN_LENGTH, TicketClaims, TicketSigner, derive_key

SECRET = "unit-test-secret-" + "x" * 32


def claims() -> TicketClaims:
    return TicketClaims(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))


def test_a_ticket_reads_back_its_booking_seat_and_event() -> None:
    signer = TicketSigner(SECRET)
    ticket = claims()
    token = signer.issue(ticket)
    assert signer.read(token) == ticket
    assert signer.issue(ticket) == token  # the same seat always shows the same QR code


def test_a_token_is_short_enough_for_a_small_qr_code() -> None:
    token = TicketSigner(SECRET).issue(claims())
    assert len(token) <= 220
    assert segno.make(token, error="m", micro=False).version <= 11


def _tampered(token: str, **changes: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


def test_altered_forged_and_garbage_tokens_are_refused() -> None:
    signer = TicketSigner(SECRET)
    token = signer.issue(claims())
    other_seat = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    assert signer.read(_tampered(token, s=other_seat)) is None
    assert signer.read(token[:-2]) is None
    assert signer.read(TicketSigner("another-secret-" + "y" * 32).issue(claims())) is None
    for garbage in ("", "not.a.jwt", "x" * (MAX_TOKEN_LENGTH + 1), token + "x" * MAX_TOKEN_LENGTH):
        assert signer.read(garbage) is None


def test_an_unsigned_token_is_refused() -> None:
    ticket = claims()
    short = TicketSigner(SECRET).issue(ticket).split(".")[1]
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"TKT"}').rstrip(b"=").decode()
    assert TicketSigner(SECRET).read(f"{header}.{short}.") is None


def test_a_sign_in_token_is_no_ticket_and_a_ticket_no_sign_in_token() -> None:
    signer, sessions = TicketSigner(SECRET), TokenService(SECRET)
    session = sessions.issue(str(uuid.uuid4()), "a@example.com")
    assert signer.read(session) is None
    assert sessions.verify(signer.issue(claims())) is None


def test_the_audience_and_type_are_required_even_under_the_right_key() -> None:
    """Defence in depth: a token signed with the ticket key but not shaped as a ticket."""
    key = derive_key(SECRET)
    ticket = TicketSigner(SECRET).issue(claims())
    body = jwt.decode(ticket, key, algorithms=["HS256"], audience=AUDIENCE)
    no_audience = {k: v for k, v in body.items() if k != "aud"}
    signer = TicketSigner(SECRET)
    assert signer.read(jwt.encode(no_audience, key, headers={"typ": "TKT"})) is None
    assert signer.read(jwt.encode(body, key)) is None  # typ JWT, not TKT
    assert signer.read(jwt.encode({**body, "aud": "other"}, key, headers={"typ": "TKT"})) is None
    assert signer.read(jwt.encode({**body, "s": "short"}, key, headers={"typ": "TKT"})) is None


def test_the_ticket_key_is_not_the_secret_and_depends_on_it() -> None:
    assert derive_key(SECRET) != SECRET.encode()
    assert derive_key(SECRET) != derive_key(SECRET + "!")
    assert derive_key(SECRET, b"other-label") != derive_key(SECRET)


@pytest.mark.parametrize("value", [None, 42, ["token"]])
def test_non_strings_are_refused(value: object) -> None:
    assert TicketSigner(SECRET).read(value) is None  # type: ignore[arg-type]
