"""Settings of the ingest service, from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_service.config import IngestSettings

pytestmark = pytest.mark.unit


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SEMANTIK_SOURCE_ROOTS", raising=False)
    monkeypatch.setenv("SEMANTIK_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SEMANTIK_MODELS_DIR", raising=False)
    settings = IngestSettings()
    # The data dir's sources alone: the home directory is opened only by naming it.
    assert settings.source_roots == [tmp_path / "sources"]
    assert settings.own_data == [tmp_path / "models"]
    assert settings.max_file_bytes == 50 * 1024 * 1024
    assert settings.embed_max_pending == 2000


def test_roots_and_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMANTIK_SOURCE_ROOTS", "/srv/docs: ~/notes ::")
    monkeypatch.setenv("SEMANTIK_MAX_FILE_BYTES", "1024")
    monkeypatch.setenv("SEMANTIK_EMBED_MAX_PENDING", "50")
    settings = IngestSettings()
    assert settings.source_roots == [Path("/srv/docs"), Path.home() / "notes"]
    assert (settings.max_file_bytes, settings.embed_max_pending) == (1024, 50)


def test_a_replica_name_is_one_token_or_the_service_does_not_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SEMANTIK_REPLICA_NAME is written into the lease buckets as their holder: a name
    with a subject's wildcard, a path, a space or a control character, or one too long,
    stops the service at start, naming the variable."""
    monkeypatch.setenv("SEMANTIK_REPLICA_NAME", "ingest@host-0a1b2c3d4e5f")
    assert IngestSettings().replica_name == "ingest@host-0a1b2c3d4e5f"
    for wrong in ("scan.*", "a>b", "../x", "two words", "bad\nname", "-lead", "x" * 129):
        monkeypatch.setenv("SEMANTIK_REPLICA_NAME", wrong)
        with pytest.raises(ValueError, match="SEMANTIK_REPLICA_NAME"):
            IngestSettings()
    monkeypatch.delenv("SEMANTIK_REPLICA_NAME")
    assert IngestSettings().replica_name is None
