"""Passwords (argon2), JWTs (HS256) and the signing secret (SPEC §7)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "semantik"
ACCESS = "access"
REFRESH = "refresh"
#: Access tokens whose signature and claims were checked, kept until they expire.
VERIFIED_TOKENS = 4096

_hasher = PasswordHasher()
# Verified against when a username is unknown, so that a login takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; a missing hash still costs one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def load_jwt_secret(configured: str | None, data_dir: Path) -> str:
    """``JWT_SECRET`` if set; else the secret generated once into a 0600 file and reused."""
    if configured:
        return configured
    path = data_dir / "secrets" / "jwt_secret"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create_secret_file(path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s was readable by others; restricting it to its owner", path)
        path.chmod(0o600)
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise RuntimeError(f"{path} holds no usable secret; delete it to generate a new one")
    return secret


def _create_secret_file(path: Path) -> None:
    # Written whole to a private temporary file, then linked into place: the link fails
    # if another process got there first, and nobody ever reads a half-written secret.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(64))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


#: The CLI's local account on this installation (an operator admin, SPEC §11).
OPERATOR_USERNAME = "semantik-cli"


def load_operator_credentials(data_dir: Path) -> tuple[str, str]:
    """The CLI's local account: ``<data dir>/secrets/cli_credentials.json``, generated
    once (mode 0600) and read by the CLI on the same machine."""
    path = data_dir / "secrets" / "cli_credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        creds = {"username": OPERATOR_USERNAME, "password": secrets.token_urlsafe(24)}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(creds, out)
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    stored = json.loads(path.read_text())
    return str(stored["username"]), str(stored["password"])


class InvalidToken(Exception):
    """A token that is malformed, expired, of the wrong kind or badly signed."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    username: str
    session_id: str | None = None  # the refresh family it was issued with
    expires_at: float | None = None  # seconds since the epoch


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    family_id: UUID
    token_id: UUID


@dataclass(frozen=True)
class IssuedRefresh:
    token: str
    family_id: UUID
    token_id: UUID
    expires_at: datetime


class TokenIssuer:
    """Signs and checks access tokens (short) and refresh tokens (rotating)."""

    def __init__(self, secret: str, access_minutes: int, refresh_days: int) -> None:
        self._secret = secret
        self.access_ttl = timedelta(minutes=access_minutes)
        self.refresh_ttl = timedelta(days=refresh_days)
        # token -> its claims, for tokens verified before: every request carries one,
        # and checking its signature again took PyJWT about 0.1 ms of each search.
        self._verified: dict[str, tuple[AccessClaims, float]] = {}

    def access_token(self, user_id: str, username: str, session_id: UUID | None = None) -> str:
        now = datetime.now(UTC)
        claims = {"sub": user_id, "name": username, "type": ACCESS}
        if session_id is not None:
            claims["sid"] = str(session_id)
        return self._encode(claims, now, now + self.access_ttl)

    def refresh_token(self, user_id: str, family_id: UUID | None = None) -> IssuedRefresh:
        """A new refresh token: of a new family at login, of the same family on rotation."""
        now = datetime.now(UTC)
        family, token_id = family_id or uuid4(), uuid4()
        expires = now + self.refresh_ttl
        claims = {"sub": user_id, "type": REFRESH, "fam": str(family), "jti": str(token_id)}
        return IssuedRefresh(self._encode(claims, now, expires), family, token_id, expires)

    def verify_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token. A token verified before answers from
        memory until its ``exp`` (what the signature check would then refuse first:
        its claims cannot change without changing the signed token); a token that fails
        is never kept."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known[1]:
                return known[0]
            del self._verified[token]
        claims = self._decode(token, ACCESS)
        session = claims.get("sid")
        expires = float(claims["exp"])  # required, and a number (PyJWT checked both)
        verified = AccessClaims(
            user_id=claims["sub"],
            username=str(claims.get("name", "")),
            session_id=session if isinstance(session, str) else None,
            expires_at=expires,
        )
        self._remember(token, verified, expires)
        return verified

    def _remember(self, token: str, claims: AccessClaims, expires: float) -> None:
        """Keep ``claims`` for ``token`` until ``expires``; when full, first forget the
        expired tokens, then the oldest kept."""
        if len(self._verified) >= VERIFIED_TOKENS:
            now = time.time()
            for old in [t for t, (_, until) in self._verified.items() if until <= now]:
                del self._verified[old]
            while len(self._verified) >= VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]
        self._verified[token] = (claims, expires)

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, REFRESH)
        try:
            return RefreshClaims(claims["sub"], UUID(claims["fam"]), UUID(claims["jti"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidToken("malformed refresh token") from exc

    def _encode(self, claims: dict[str, str], issued: datetime, expires: datetime) -> str:
        payload = {**claims, "iss": ISSUER, "iat": issued, "exp": expires}
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM)

    def _decode(self, token: str, kind: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("type") != kind or not isinstance(claims.get("sub"), str):
            raise InvalidToken(f"not an {kind} token")
        return claims
