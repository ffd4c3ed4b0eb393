"""Rasa 3.6's action response check, with a validator built once (bot/rasa_fixes.py)."""

from __future__ import annotations

import time

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_fixes

RESPONSE = {
    "events": [
        {"event": "slot", "name": "asked_to_clarify", "value": False},
        {"event": "bot", "text": "Les lots concernés sont…", "data": {}},
    ],
    "responses": [{"text": "Les lots concernés sont…", "buttons": []}],
}


@pytest.fixture
def action() -> RemoteAction:
    rasa_fixes.install()
    return RemoteAction("action_answer_faq", EndpointConfig("http://127.0.0.1:1"))


def test_a_valid_response_passes(action: RemoteAction) -> None:
    assert action._validate_action_result(RESPONSE) is True


@pytest.mark.parametrize(
    "response",
    [
        {"events": [{"event": "no_such_event"}]},
        {"events": "not a list"},
        {"responses": ["not an object"]},
    ],
)
def test_an_invalid_response_is_rejected_as_rasa_rejects_it(
    action: RemoteAction, response: dict
) -> None:
    with pytest.raises(ValidationError) as ours:
        action._validate_action_result(response)
    with pytest.raises(ValidationError) as rasas:
        jsonschema.validate(response, RemoteAction.action_response_format_spec())
    assert ours.value.message.startswith(rasas.value.message)
    assert "Failed to validate Action server response" in ours.value.message


def test_the_schema_is_checked_once_not_per_response(
    action: RemoteAction, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = []
    validator_class = type(rasa_fixes.action_response_validator())
    original = validator_class.check_schema
    monkeypatch.setattr(
        validator_class,
        "check_schema",
        classmethod(lambda cls, schema: checks.append(1) or original(schema)),
    )
    started = time.perf_counter()
    for _ in range(50):
        action._validate_action_result(RESPONSE)
    ours = time.perf_counter() - started
    assert checks == []
    # For the record (never asserted on time): Rasa's own way, same responses.
    started = time.perf_counter()
    for _ in range(5):
        jsonschema.validate(RESPONSE, RemoteAction.action_response_format_spec())
    print(f"\n{ours / 50 * 1000:.2f} ms per response against "
          f"{(time.perf_counter() - started) / 5 * 1000:.2f} ms")  # fmt: skip
