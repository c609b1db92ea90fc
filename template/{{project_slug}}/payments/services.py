"""Writes of the payments domain: views and tasks call these, never the ORM directly."""

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from ..core.idempotency import idempotency_key_claim
from . import tasks
from .models import LedgerEntry, Receipt, ReconciliationRun, WebhookEvent
from .selectors import ledger_totals


class InvalidPaymentEvent(ValueError):
    """The webhook's payload is not a payment we can record."""


def webhook_event_receive(*, external_id: str, payload: dict) -> tuple[WebhookEvent, bool]:
    """Store a webhook once; on its first receipt, start the payment pipeline after commit.

    Returns the event and whether it was new (a provider resending it changes nothing).
    """
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


def _payment_validate(payload: dict) -> None:
    amount = payload.get("amount_cents")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidPaymentEvent("amount_cents must be a positive integer")
    currency = payload.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise InvalidPaymentEvent("currency must be a three-letter ISO 4217 code")
    email = payload.get("customer_email")
    if not isinstance(email, str) or "@" not in email:
        raise InvalidPaymentEvent("customer_email must be an email address")
