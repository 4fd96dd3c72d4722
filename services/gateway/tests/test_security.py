"""Passwords, tokens and the signing secret, without any server."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest
from gateway_service import security
from gateway_service.security import (
    InvalidToken,
    TokenIssuer,
    hash_password,
    load_jwt_secret,
    verify_password,
)

pytestmark = [pytest.mark.unit, pytest.mark.reliability]


def test_passwords_are_hashed_with_argon2_and_checked() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password(None, "correct horse")
    assert not verify_password("not a hash", "correct horse")


def test_the_secret_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    secret = load_jwt_secret(None, tmp_path)
    path = tmp_path / "secrets" / "jwt_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 64
    assert load_jwt_secret(None, tmp_path) == secret
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


def test_a_secret_file_readable_by_others_is_restricted(tmp_path: Path) -> None:
    load_jwt_secret(None, tmp_path)
    path = tmp_path / "secrets" / "jwt_secret"
    path.chmod(0o644)
    load_jwt_secret(None, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_secret_is_used_as_is(tmp_path: Path) -> None:
    assert load_jwt_secret("s" * 40, tmp_path) == "s" * 40
    assert not (tmp_path / "secrets").exists()


def test_access_and_refresh_tokens_are_not_interchangeable() -> None:
    issuer = TokenIssuer("k" * 64, access_minutes=5, refresh_days=1)
    access = issuer.access_token("user-1", "alice")
    refresh = issuer.refresh_token("user-1")
    assert issuer.verify_access(access).user_id == "user-1"
    assert issuer.verify_refresh(refresh.token).family_id == refresh.family_id
    with pytest.raises(InvalidToken):
        issuer.verify_access(refresh.token)
    with pytest.raises(InvalidToken):
        issuer.verify_refresh(access)
    rotated = issuer.refresh_token("user-1", refresh.family_id)
    assert rotated.family_id == refresh.family_id and rotated.token_id != refresh.token_id


def test_tokens_signed_elsewhere_or_expired_are_refused() -> None:
    issuer = TokenIssuer("k" * 64, access_minutes=5, refresh_days=1)
    other = TokenIssuer("o" * 64, access_minutes=5, refresh_days=1)
    with pytest.raises(InvalidToken):
        issuer.verify_access(other.access_token("user-1", "alice"))
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "user-1", "type": "access", "iss": "semantik", "iat": now - 120, "exp": now - 60},
        "k" * 64,
        algorithm="HS256",
    )
    with pytest.raises(InvalidToken):
        issuer.verify_access(expired)
    unsigned = jwt.encode(
        {"sub": "user-1", "type": "access", "iss": "semantik", "iat": now, "exp": now + 60},
        None,
        algorithm="none",
    )
    with pytest.raises(InvalidToken):
        issuer.verify_access(unsigned)


def _token(secret: str, expires: int, user: str = "user-1") -> str:
    now = int(time.time())
    claims = {"sub": user, "type": "access", "iss": "semantik", "iat": now, "exp": expires}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_verified_token_is_answered_from_memory_until_it_expires() -> None:
    issuer = TokenIssuer("k" * 64, access_minutes=5, refresh_days=1)
    expires = int(time.time()) + 1
    token = _token("k" * 64, expires)
    first = issuer.verify_access(token)
    assert first.user_id == "user-1" and first.expires_at == expires
    assert issuer.verify_access(token) is first  # from memory, not decoded again
    # The same claims under another signature are another token: checked, refused.
    head, body, _ = token.split(".")
    forged = f"{head}.{body}.{_token('o' * 64, expires).split('.')[2]}"
    with pytest.raises(InvalidToken):
        issuer.verify_access(forged)
    while time.time() < expires + 0.05:
        time.sleep(0.05)
    with pytest.raises(InvalidToken):  # expired: memory does not outlive the token
        issuer.verify_access(token)


def test_the_tokens_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "VERIFIED_TOKENS", 2)
    issuer = TokenIssuer("k" * 64, access_minutes=5, refresh_days=1)
    later = int(time.time()) + 60
    tokens = [_token("k" * 64, later, f"user-{n}") for n in range(3)]
    assert [issuer.verify_access(t).user_id for t in tokens] == ["user-0", "user-1", "user-2"]
    assert len(issuer._verified) == 2 and tokens[0] not in issuer._verified  # oldest gone
    assert issuer.verify_access(tokens[0]).user_id == "user-0"  # checked again, still valid
