"""Password hashes: argon2id at OWASP's minimum parameters; other hashes are flagged for upgrade."""

from __future__ import annotations

from argon2 import PasswordHasher

from api.auth import hash_password, password_needs_rehash, verify_password


def test_hashes_use_owasp_minimum_argon2id_parameters() -> None:
    password_hash = hash_password("correct horse battery")
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(password_hash, "correct horse battery")
    assert not verify_password(password_hash, "correct horse battery!")
    assert not password_needs_rehash(password_hash)


def test_older_or_foreign_hashes_need_a_rehash_and_still_verify() -> None:
    old = PasswordHasher().hash("correct horse battery")  # argon2-cffi's default parameters
    assert password_needs_rehash(old)
    assert verify_password(old, "correct horse battery")
    assert password_needs_rehash("not-a-hash")
    assert not verify_password(None, "correct horse battery")
