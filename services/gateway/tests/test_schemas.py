"""The HTTP schemas check at least what the commands check, so that bad input is a 422
before anything is sent, and every typed error has its HTTP status."""

from __future__ import annotations

import pytest
from gateway_service.errors import HTTP_STATUS
from gateway_service.schemas import (
    CollectionCreate,
    CollectionUpdate,
    MultiSearchRequest,
    SearchRequest,
    SourceCreate,
)
from pydantic import BaseModel
from semantik_contracts import ErrorCode
from semantik_contracts.commands import AddSource, CreateCollection, UpdateCollection
from semantik_contracts.search import Search

pytestmark = pytest.mark.unit


def constraints(model: type[BaseModel], field: str) -> set[str]:
    return {repr(item) for item in model.model_fields[field].metadata}


@pytest.mark.parametrize(
    ("schema", "command"),
    [
        (CollectionCreate, CreateCollection),
        (CollectionUpdate, UpdateCollection),
        (SourceCreate, AddSource),
        (SearchRequest, Search),
    ],
)
def test_schemas_are_at_least_as_strict_as_their_commands(
    schema: type[BaseModel], command: type[BaseModel]
) -> None:
    shared = set(schema.model_fields) & set(command.model_fields)
    assert shared, "nothing in common: the pair is wrong"
    for field in shared:
        missing = constraints(command, field) - constraints(schema, field)
        assert not missing, f"{schema.__name__}.{field} lacks {missing}"


def test_a_multi_search_names_no_more_collections_than_a_search_may_target() -> None:
    ids = constraints(MultiSearchRequest, "collection_ids")
    assert ids == constraints(Search, "targets")


def test_every_error_code_has_an_http_status() -> None:
    assert set(HTTP_STATUS) == set(ErrorCode)
    assert {code for code, status in HTTP_STATUS.items() if status >= 500} == {
        ErrorCode.UNAVAILABLE,
        ErrorCode.TIMEOUT,
        ErrorCode.INTERNAL,
    }
