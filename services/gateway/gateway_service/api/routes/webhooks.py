"""``/api/v2/webhooks``: a user's webhooks (SPEC §13). A webhook belongs to the user who
made it; for anyone else it does not exist (404), admins included. Its secret is shown
once, when it is created. Its delivery log is ``webhook_deliveries.py``."""

from __future__ import annotations

import asyncio
from uuid import UUID

from fastapi import APIRouter, HTTPException, Response, status
from semantik_contracts.commands import GetCollection
from semantik_contracts.views import CollectionView

from ...principals import Principal
from ...webhook_guard import UnsafeUrl, check_url_target
from ...webhook_schemas import WebhookCreate, WebhookCreated, WebhookPublic, WebhookUpdate
from ..deps import ContextDep, CurrentUser

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_webhook(
    body: WebhookCreate, user: CurrentUser, context: ContextDep
) -> WebhookCreated:
    """A new webhook; ``secret`` is in this answer only."""
    await _check_collections(user, body.collection_ids, context)
    try:
        await check_url_target(body.url, allow_private=context.settings.webhook_allow_private)
    except UnsafeUrl as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    view = await asyncio.to_thread(
        context.webhooks.create,
        UUID(user.user_id),
        body.url,
        body.events,
        body.collection_ids,
        body.description,
    )
    return WebhookCreated.model_validate(view, from_attributes=True)


@router.get("")
def list_webhooks(user: CurrentUser, context: ContextDep) -> list[WebhookPublic]:
    """The caller's own webhooks, newest first (never their secrets)."""
    return [WebhookPublic.of(v) for v in context.webhooks.of_owner(UUID(user.user_id))]


@router.get("/{webhook_id}")
def get_webhook(webhook_id: UUID, user: CurrentUser, context: ContextDep) -> WebhookPublic:
    return WebhookPublic.of(context.webhooks.owned(UUID(user.user_id), webhook_id))


@router.patch("/{webhook_id}")
def update_webhook(
    webhook_id: UUID, body: WebhookUpdate, user: CurrentUser, context: ContextDep
) -> WebhookPublic:
    """Pause it, or activate it again (which clears its failure state)."""
    view = context.webhooks.set_active(UUID(user.user_id), webhook_id, body.active)
    return WebhookPublic.of(view)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: UUID, user: CurrentUser, context: ContextDep) -> Response:
    """Deliveries stop; events already being delivered may still arrive once."""
    context.webhooks.delete(UUID(user.user_id), webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _check_collections(
    user: Principal, collection_ids: list[UUID] | None, context: ContextDep
) -> None:
    """The owner must be able to read each named collection (403/404 as the collections
    API answers), and an API key limited to some collections may name only those, and
    must name them: a webhook of every collection would reach past the key."""
    if collection_ids is None:
        if user.collection_ids is not None:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "this API key is limited to some collections: name them in collection_ids",
            )
        return
    user.check_collections(collection_ids)
    backend = context.backend
    if backend is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the gateway is not connected yet")
    for collection_id in dict.fromkeys(collection_ids):
        await backend.ask(GetCollection(**user.acting, collection_id=collection_id), CollectionView)
