"""Writes of the payments domain: tasks call these, never the ORM directly.

Imports run one way: views -> webhooks -> tasks -> services -> selectors -> models. Nothing
here imports tasks: a service that must start a task belongs in webhooks.py (or another caller
of tasks).
"""

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from ..core.idempotency import idempotency_key_claim
from .models import LedgerEntry, Receipt, ReconciliationRun, WebhookEvent
from .selectors import ledger_totals


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
