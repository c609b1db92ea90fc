"""Reads of the payments domain."""

from django.db.models import Count, Sum

from .models import LedgerEntry


def ledger_totals() -> tuple[int, dict[str, int]]:
    """Number of ledger entries and the total amount per currency, in cents."""
    rows = LedgerEntry.objects.values("currency").annotate(
        count=Count("id"), total=Sum("amount_cents")
    )
    totals = {row["currency"]: row["total"] for row in rows}
    return sum(row["count"] for row in rows), totals
