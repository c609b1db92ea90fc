"""The payment webhook's work once its signature and JSON are checked: validate the payment,
store the event once, start the payment pipeline after commit.

Imports run one way: views -> webhooks -> tasks -> services -> selectors -> models.
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction

from .models import EMAIL_MAX_LENGTH, EXTERNAL_ID_MAX_LENGTH, WebhookEvent
from .tasks import payment_pipeline

# ASCII letters only: str.isalpha() takes "ß", which upper-cases to two letters.
CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")


class InvalidPaymentEvent(ValueError):
    """The webhook's payload is not a payment we can record."""


def webhook_event_receive(*, payload: dict) -> tuple[WebhookEvent, bool]:
    """Store a webhook once; on its first receipt, start the payment pipeline after commit.

    Returns the event and whether it was new (a provider resending it changes nothing).
    Raises InvalidPaymentEvent for a payload that the pipeline could not record.
    """
    external_id = _event_id(payload)
    _payment_validate(payload)
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            external_id=external_id, defaults={"payload": payload}
        )
        if created:
            # The chain leaves once the event row is committed, so the worker always finds it.
            transaction.on_commit(lambda: payment_pipeline(event.pk).apply_async())
    return event, created


def _event_id(payload: dict) -> str:
    """The provider's event id, as the unique key of the event row stores it."""
    event_id = payload.get("id")
    if isinstance(event_id, bool) or not isinstance(event_id, str | int):
        raise InvalidPaymentEvent("id must be a string or an integer")
    external_id = str(event_id)
    if not external_id or len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise InvalidPaymentEvent(f"id must be 1 to {EXTERNAL_ID_MAX_LENGTH} characters long")
    return external_id


def _payment_validate(payload: dict) -> None:
    # What the pipeline's steps will store, checked now: a payload they could not record is
    # refused to the provider, rather than failing in a worker after a 202.
    amount = payload.get("amount_cents")
    _, largest = connection.ops.integer_field_range("BigIntegerField")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= largest:
        raise InvalidPaymentEvent("amount_cents must be a positive integer")
    currency = payload.get("currency")
    if not isinstance(currency, str) or not CURRENCY_CODE.fullmatch(currency):
        raise InvalidPaymentEvent("currency must be a three-letter ISO 4217 code")
    email = payload.get("customer_email")
    if not isinstance(email, str) or len(email) > EMAIL_MAX_LENGTH or not _is_email(email):
        raise InvalidPaymentEvent("customer_email must be an email address")


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True
