"""The example domain: a payment provider's webhook becomes a ledger entry, a receipt, an email."""

from django.db import models

# Column lengths the webhook checks before it stores anything (payments/webhooks.py).
EXTERNAL_ID_MAX_LENGTH = 255
EMAIL_MAX_LENGTH = 254


class WebhookEvent(models.Model):
    """A webhook as received; the provider's event id makes a resent webhook a no-op."""

    external_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH, unique=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.external_id


class LedgerEntry(models.Model):
    """One entry per payment event: the one-to-one key absorbs a task that runs twice."""

    event = models.OneToOneField(WebhookEvent, on_delete=models.PROTECT, related_name="entry")
    amount_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    customer_email = models.EmailField(max_length=EMAIL_MAX_LENGTH)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.amount_cents} {self.currency} ({self.event_id})"


class Receipt(models.Model):
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="receipt")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"receipt for entry {self.entry_id}"


class ReconciliationRun(models.Model):
    """What the periodic reconciliation found: entry count and total, per currency."""

    ran_at = models.DateTimeField(auto_now_add=True)
    entry_count = models.PositiveIntegerField()
    totals = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"reconciliation at {self.ran_at:%Y-%m-%d %H:%M}"
