"""The web UI's files at ``/``: client routes answer the app, assets are cached, the API
keeps its own 404s, and a gateway without a build says how to make one."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway_service.webui import install_web_ui

pytestmark = pytest.mark.unit

INDEX = '<!doctype html><title>Semantik</title><script src="/assets/index-abc123.js"></script>'


def app_with(app_dir: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v2/collections")
    def collections() -> dict[str, list[str]]:
        return {"items": []}

    install_web_ui(app, app_dir)
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('semantik')")
    return tmp_path


def test_client_routes_answer_the_app(built: Path) -> None:
    client = app_with(built)
    for path in ("/", "/search", "/operations", "/collections/3f2a/files", "/login"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.text == INDEX
        assert page.headers["cache-control"] == "no-cache"


def test_assets_are_cached_for_good(built: Path) -> None:
    client = app_with(built)
    asset = client.get("/assets/index-abc123.js")
    assert asset.status_code == 200 and "semantik" in asset.text
    assert "immutable" in asset.headers["cache-control"]
    missing = client.get("/assets/index-old.js")
    assert missing.status_code == 404 and "cache-control" not in missing.headers
    assert client.get("/assets/../index.html").status_code == 404


def test_the_api_keeps_its_paths(built: Path) -> None:
    client = app_with(built)
    assert client.get("/api/v2/collections").json() == {"items": []}
    assert client.get("/api/v2/nothing-here").status_code == 404
    assert client.get("/elsewhere").status_code == 404


def test_a_rebuild_is_served_without_a_restart(built: Path) -> None:
    client = app_with(built)
    (built / "index.html").write_text(INDEX.replace("abc123", "def456"))
    assert "def456" in client.get("/collections/1").text


def test_without_a_build_the_page_says_how_to_build(tmp_path: Path) -> None:
    client = app_with(tmp_path / "missing")
    page = client.get("/")
    assert page.status_code == 200
    assert "not built" in page.text and "make setup" in page.text
    assert client.get("/search").status_code == 200
