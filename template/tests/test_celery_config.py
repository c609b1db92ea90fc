"""The production defaults, read from the configured Celery app."""

import gc
from pathlib import Path

import pytest
from celery.signals import worker_init
from kombu.exceptions import EncodeError
from kombu.serialization import dumps

from config.celery import app, freeze_what_children_inherit
from config.queues import DEFAULT_QUEUE, QUEUES, TASK_ROUTES

PROJECT = Path(__file__).resolve().parent.parent


def test_delivery_guarantees_are_on() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert app.conf.broker_connection_retry_on_startup is True


def test_workers_take_one_message_at_a_time_and_recycle_children() -> None:
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.worker_max_tasks_per_child == 1000
    assert app.conf.worker_max_memory_per_child > 0


def test_workers_send_task_events_only_when_a_monitor_asks() -> None:
    # Flower switches them on while it runs (enable_events); the worker lines never force them.
    assert app.conf.worker_send_task_events is False
    procfile = (PROJECT / "Procfile").read_text()
    assert "celery -A config worker" in procfile and "--events" not in procfile


def test_every_task_has_a_soft_limit_below_its_hard_limit() -> None:
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    for spec in QUEUES.values():
        assert 0 < spec["soft_time_limit"] < spec["time_limit"]


@pytest.mark.django_db
def test_model_instances_cannot_be_sent_as_arguments(django_user_model) -> None:
    user = django_user_model.objects.create(username="someone")
    assert app.conf.accept_content == ["json"]
    with pytest.raises(EncodeError):
        dumps([user], serializer=app.conf.task_serializer)


def test_every_route_points_to_a_declared_queue() -> None:
    declared = {queue.name for queue in app.conf.task_queues}
    assert declared == set(QUEUES)
    assert DEFAULT_QUEUE in declared
    assert {route["queue"] for route in TASK_ROUTES.values()} <= declared
    assert app.conf.task_create_missing_queues is False


def test_a_worker_freezes_what_its_pool_children_inherit() -> None:
    # Connected to worker_init, which a worker sends before its pool forks.
    assert freeze_what_children_inherit in [receiver() for _, receiver in worker_init.receivers]
    frozen = gc.get_freeze_count()
    try:
        freeze_what_children_inherit()
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
