"""Writes of the payments domain: views and tasks call these, never the ORM directly."""

import re

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from ..core.idempotency import idempotency_key_claim
from . import tasks
from .models import (
    EMAIL_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    LedgerEntry,
    Receipt,
    ReconciliationRun,
    WebhookEvent,
)
from .selectors import ledger_totals

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
            transaction.on_commit(lambda: tasks.payment_pipeline(event.pk).apply_async())
    return event, created


def ledger_entry_record(*, event_id: int) -> LedgerEntry:
    """Record the payment of an event; running twice records it once."""
    event = WebhookEvent.objects.get(pk=event_id)
    entry, _ = LedgerEntry.objects.get_or_create(
        event=event,
        defaults={
            "amount_cents": event.payload["amount_cents"],
            "currency": event.payload["currency"].upper(),
            "customer_email": event.payload["customer_email"],
        },
    )
    return entry


def receipt_build(*, entry_id: int) -> Receipt:
    """Render the receipt of a ledger entry (the "report" step); running twice builds it once."""
    entry = LedgerEntry.objects.get(pk=entry_id)
    amount = f"{entry.amount_cents / 100:.2f} {entry.currency}"
    body = f"Payment received: {amount}.\nReference: {entry.event.external_id}\n"
    receipt, _ = Receipt.objects.get_or_create(entry=entry, defaults={"body": body})
    return receipt


def receipt_email_send(*, receipt_id: int) -> bool:
    """Email a receipt once, whatever the number of deliveries; True if this call sent it."""
    with transaction.atomic():
        receipt = Receipt.objects.select_related("entry").get(pk=receipt_id)
        if not idempotency_key_claim(f"receipt-email:{receipt_id}"):
            return False
        send_mail(
            subject="Your receipt",
            message=receipt.body,
            from_email=None,
            recipient_list=[receipt.entry.customer_email],
        )
        receipt.emailed_at = timezone.now()
        receipt.save(update_fields=["emailed_at"])
    return True


def ledger_reconcile() -> ReconciliationRun:
    """Count the ledger and total it per currency, keeping a record of what was found."""
    entry_count, totals = ledger_totals()
    return ReconciliationRun.objects.create(entry_count=entry_count, totals=totals)


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
