"""Run inside a rendered project (its folder, its environment, its settings) by the boot tests.

    python driver.py COMMAND [ARG ...]   run one command, print its result as one JSON line
    python driver.py serve               answer commands, one JSON list per line on stdin
                                         (["ping", "default"]), one JSON object per line on
                                         stdout ({"result": ...} or {"error": traceback})

One process serves a whole boot: Django and Celery are imported once, not once per command.

Commands (each returns what it sent, or the results it got):
    ping QUEUE [QUEUE ...]  send core.tasks.ping to each queue named: [[queue, id], ...]
    scenarios QUEUE         send the diagnostic scenarios to QUEUE: {name: id}
    canvas QUEUE            run a chain, a group, a chord and a failing chord, waiting for
                            their results (needs a result backend)
    records QUEUE N SECONDS [SOFT_LIMIT PREFIX]
                            send N core.tasks.record tasks that each work for SECONDS, with keys
                            record-0 ... record-(N-1) (or PREFIX-0 ...), each with SOFT_LIMIT
                            seconds as its own soft time limit if given
    metrics PORT            the samples served on 127.0.0.1:PORT, read with the project's
                            prometheus-client: [[name, labels, value], ...]
    manage NAME [ARG ...]   run a management command, as manage.py would
    sql QUERY               the first column of the first row of QUERY's answer, as text

It talks to the broker and the database exactly as the project's own code does.
"""

import contextlib
import json
import os
import sys
import time
import traceback


class Rollback(Exception):
    pass


def setup():
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from config.celery import app

    app.loader.import_default_modules()
    slug = next(name for name in app.tasks if name.endswith(".core.tasks.ping")).split(".")[0]
    return __import__(f"{slug}.core", fromlist=["dispatch", "tasks"])


def run(core, command: str, *args: str):
    if command == "ping":
        return [[queue, core.tasks.ping.apply_async(queue=queue).id] for queue in args]
    if command == "scenarios":
        from django.db import transaction

        (queue,) = args
        diagnostics = core.tasks  # ping, add, total, fail, fail_transiently, record
        sent = {
            "retry": diagnostics.fail_transiently.apply_async(("retry", 2), queue=queue).id,
            "dead": diagnostics.fail.apply_async(("boot failure",), queue=queue).id,
        }
        with contextlib.suppress(Rollback), transaction.atomic():
            sent["rolled_back"] = core.dispatch.enqueue_on_commit(
                diagnostics.record, args=("rolled-back",), queue=queue
            )
            raise Rollback
        with transaction.atomic():
            sent["committed"] = core.dispatch.enqueue_on_commit(
                diagnostics.record, args=("committed",), queue=queue
            )
        return sent
    if command == "records":
        queue, count, seconds = args[0], int(args[1]), float(args[2])
        soft, prefix = (float(args[3]), args[4]) if len(args) > 3 else (None, "record")
        send = core.tasks.record.apply_async
        keys = [f"{prefix}-{i}" for i in range(count)]
        return [send((key, seconds), queue=queue, soft_time_limit=soft).id for key in keys]
    if command == "canvas":
        return canvas(core, *args)
    if command == "metrics":
        from urllib.request import urlopen

        from prometheus_client.parser import text_string_to_metric_families

        with urlopen(f"http://127.0.0.1:{args[0]}/metrics", timeout=10) as response:
            text = response.read().decode()
        families = text_string_to_metric_families(text)
        return [[s.name, s.labels, s.value] for family in families for s in family.samples]
    if command == "manage":
        from django.core.management import call_command

        call_command(*args)
        return None
    if command == "sql":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(args[0])
            row = cursor.fetchone()
        return None if row is None or row[0] is None else str(row[0])
    raise ValueError(f"unknown command {command!r}")


def settled(result, timeout: float = 60.0):
    """RESULT's value once stored (raising its error, as get() does).

    On the Redis result backend, get() waits for a pub/sub notice, which a client can miss: once
    in a full boot run, a chain's last task stored its result and get() still timed out. What the
    checks assert is the stored result, so on Redis they poll for it; the other backends' get()
    already reads what is stored (database) or keeps its messages (rpc).
    """
    if type(result.backend).__module__ != "celery.backends.redis":
        return result.get(timeout=timeout)
    deadline = time.monotonic() + timeout
    while not result.ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{result!r} not ready within {timeout} s")
        time.sleep(0.1)
    children = getattr(result, "results", None)  # a group's results, each stored on its own
    if children is not None:
        return [child.get(timeout=5) for child in children]
    return result.get(timeout=5)


def canvas(core, queue: str) -> dict:
    from celery import chain, chord, group

    add, total, fail = core.tasks.add, core.tasks.total, core.tasks.fail
    options = {"queue": queue}
    results = {
        "chain": settled(chain(add.s(1, 2), add.s(3)).apply_async(**options)),
        "group": settled(group(add.s(i, i) for i in range(4)).apply_async(**options)),
    }
    header = [add.s(i, i) for i in range(4)]
    try:
        results["chord"] = settled(chord(header, total.s()).apply_async(**options))
    except NotImplementedError as error:  # the rpc backend has no chords
        results["chord"] = f"unsupported: {type(error).__name__}"
        return results
    failing = chord([add.s(1, 1), fail.s("chord member failed")], total.s())
    try:
        settled(failing.apply_async(**options))
        results["failing_chord"] = None
    except Exception as error:  # noqa: BLE001 - the error is the result here
        results["failing_chord"] = f"{type(error).__name__}: {error}"
    return results


def serve(core) -> None:
    # Replies go to the original stdout; anything else printed goes to stderr (the log).
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        try:
            reply = {"result": run(core, *json.loads(line))}
        except Exception:  # noqa: BLE001 - reported to the test, which fails with it
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def main(command: str, *args: str) -> None:
    core = setup()
    if command == "serve":
        serve(core)
    else:
        print(json.dumps(run(core, command, *args)))


if __name__ == "__main__":
    main(*sys.argv[1:])
