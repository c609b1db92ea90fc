"""Idempotency keys: at-least-once delivery means a task may run twice; its side effect must not."""

from django.db import IntegrityError, transaction

from .models import IdempotencyKey


def idempotency_key_claim(key: str) -> bool:
    """Claim `key`: True the first time, False for every later claim of the same key.

    Call it inside the same transaction as the side effect, so a failed side effect releases the
    key with the rollback:

        with transaction.atomic():
            if idempotency_key_claim(f"receipt-email:{receipt_id}"):
                send_the_email()
    """
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(key=key)
    except IntegrityError:
        return False
    return True
