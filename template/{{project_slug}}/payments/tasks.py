"""Thin tasks: take ids, call a service, return ids. Retries and dead letters come from BaseTask."""

from celery import chain, shared_task

from . import services


@shared_task
def record_payment(event_id: int) -> int:
    return services.ledger_entry_record(event_id=event_id).pk


@shared_task
def build_receipt(entry_id: int) -> int:
    return services.receipt_build(entry_id=entry_id).pk


# Fire-and-forget: nobody reads the result, so none is stored.
@shared_task(ignore_result=True)
def send_receipt_email(receipt_id: int) -> None:
    services.receipt_email_send(receipt_id=receipt_id)


@shared_task(ignore_result=True)
def reconcile_ledger() -> None:
    services.ledger_reconcile()


def payment_pipeline(event_id: int) -> chain:
    """Webhook -> ledger entry -> receipt -> email; each step routed by config/queues.py."""
    return chain(record_payment.si(event_id), build_receipt.s(), send_receipt_email.s())
