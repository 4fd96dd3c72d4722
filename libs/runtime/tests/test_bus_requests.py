"""A request's reply, typed or as the service wrote it (``Bus.request_json``): the same
result either way, the service's error raised as its own, and a reply that is not one
refused; on a real NATS server."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from pydantic import BaseModel
from semantik_contracts import ErrorCode, RpcFailure
from semantik_runtime import bus as bus_module
from semantik_runtime.bus import Bus
from semantik_runtime.errors import CommandError

pytestmark = pytest.mark.integration


class Ask(BaseModel):
    text: str


class Answer(BaseModel):
    text: str
    lengths: list[int]
    score: float | None = None


def _never(*_: object) -> object:
    raise AssertionError("a reply of Bus.serve was parsed")


async def test_a_json_reply_is_the_typed_result_and_errors_are_raised(
    nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = await Bus.connect(nats_url, "test")
    asking = await Bus.connect(nats_url, "test")
    subject = f"test.rpc.{uuid4().hex}"
    raw = f"test.raw.{uuid4().hex}"

    async def answer(ask: Ask) -> Answer:
        if ask.text == "refuse":
            raise CommandError(ErrorCode.INVALID, "refused: bad text")
        return Answer(text=ask.text + " ünï 🚀", lengths=[1, 2], score=0.25)

    async def not_a_reply(msg: object) -> None:
        replies = {
            "broken": b"[1, 2",
            "list": b"[]",
            # A reply written otherwise than Bus.serve writes it: parsed, still right.
            "reordered": b'{ "error": null, "result": {"text": "x", "lengths": []} }',
            "empty": b'{"result":null,"error":null}',
        }
        text = json.loads(msg.data)["text"]  # type: ignore[attr-defined]
        await msg.respond(replies[text])  # type: ignore[attr-defined]

    try:
        await served.serve(subject, Ask, answer, queue="test")
        await served.nc.subscribe(raw, cb=not_a_reply)
        await served.nc.flush()
        typed = await asking.request(subject, Ask(text="hi"), Answer)
        untyped = await asking.request_json(subject, Ask(text="hi"))
        assert json.loads(untyped) == typed.model_dump(mode="json")
        # What the service wrote is handed on as it is: cut out of the envelope, not
        # parsed and written again.
        wrote = (await asking.nc.request(subject, Ask(text="hi").model_dump_json().encode())).data
        assert wrote == b'{"result":' + untyped + b',"error":null}'
        with monkeypatch.context() as patch:
            patch.setattr(bus_module.pydantic_core, "from_json", _never)
            assert await asking.request_json(subject, Ask(text="hi")) == untyped
        assert Answer.model_validate_json(untyped) == typed
        for call in (
            asking.request(subject, Ask(text="refuse"), Answer),
            asking.request_json(subject, Ask(text="refuse")),
        ):
            with pytest.raises(RpcFailure) as refused:
                await call
            assert refused.value.error.code == ErrorCode.INVALID
            assert refused.value.error.message == "refused: bad text"
        for body in ("broken", "list"):
            with pytest.raises(RpcFailure) as bad:
                await asking.request_json(raw, Ask(text=body))
            assert bad.value.error.code == ErrorCode.INTERNAL and "not a reply" in str(bad.value)
        reordered = await asking.request_json(raw, Ask(text="reordered"))
        assert json.loads(reordered) == {"text": "x", "lengths": []}
        with pytest.raises(RpcFailure) as empty:
            await asking.request_json(raw, Ask(text="empty"))
        assert "empty reply" in str(empty.value)
        with pytest.raises(RpcFailure) as nobody:
            await asking.request_json(f"test.nobody.{uuid4().hex}", Ask(text="x"), timeout=1)
        assert nobody.value.error.code == ErrorCode.UNAVAILABLE
    finally:
        await asking.close()
        await served.close()
