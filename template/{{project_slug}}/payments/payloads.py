"""A webhook body read as JSON that PostgreSQL can store: anything else is refused, not a crash."""

import json
import math
from typing import Any

# Provider events nest a few levels; a deeper body is no event, and parsers and encoders recurse.
MAX_DEPTH = 32


class InvalidPayload(ValueError):
    """The body is not a JSON object this app can store; the message is safe to show the sender."""


def payload_parse(body: bytes) -> dict[str, Any]:
    """The JSON object in `body`, checked to fit a jsonb column; or InvalidPayload."""
    try:
        payload = json.loads(
            body.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise InvalidPayload(f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
        raise InvalidPayload("body must be a UTF-8 JSON object") from None
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a UTF-8 JSON object")
    _storable_check(payload)
    return payload


def _refuse_constant(name: str) -> float:
    # json accepts NaN and Infinity, which are not JSON and which jsonb refuses.
    raise ValueError(name)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 reads as infinity
        raise ValueError(text)
    return number


def _storable_check(payload: dict[str, Any]) -> None:
    """No deeper than MAX_DEPTH; every key and string valid UTF-8 without NUL (jsonb refuses it).

    A loop, not recursion: a check for depth must not itself run out of stack.
    """
    pending: list[tuple[Any, int]] = [(payload, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _text_check(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidPayload(f"body nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key in value:
                _text_check(key)
            pending.extend((item, depth + 1) for item in value.values())
        else:
            pending.extend((item, depth + 1) for item in value)


def _text_check(text: str) -> None:
    if "\x00" in text:
        raise InvalidPayload("strings must not contain NUL (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800", which JSON escapes allow
        raise InvalidPayload("strings must be valid Unicode") from None
