"""Run inside a rendered project (its folder, its environment, its settings) by the boot tests.

    python driver.py ping QUEUE [QUEUE ...]  send core.tasks.ping to each queue named
    python driver.py scenarios QUEUE         send the diagnostic scenarios to QUEUE
    python driver.py canvas QUEUE            run a chain, a group, a chord and a failing chord,
                                             waiting for their results (needs a result backend)
    python driver.py records QUEUE N SECONDS send N core.tasks.record tasks that each work for
                                             SECONDS, with keys record-0 ... record-(N-1)

Each prints one JSON object: the ids of what it sent, or the results it got. It talks to the
broker and the database exactly as the project's own code does.
"""

import contextlib
import json
import os
import sys


class Rollback(Exception):
    pass


def main(command: str, *args: str) -> None:
    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from config.celery import app

    app.loader.import_default_modules()
    slug = next(name for name in app.tasks if name.endswith(".core.tasks.ping")).split(".")[0]
    core = __import__(f"{slug}.core", fromlist=["dispatch", "tasks"])

    if command == "ping":
        print(json.dumps([[queue, core.tasks.ping.apply_async(queue=queue).id] for queue in args]))
    elif command == "scenarios":
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
        print(json.dumps(sent))
    elif command == "records":
        queue, count, seconds = args[0], int(args[1]), float(args[2])
        record = core.tasks.record
        ids = [record.apply_async((f"record-{i}", seconds), queue=queue).id for i in range(count)]
        print(json.dumps(ids))
    elif command == "canvas":
        from celery import chain, chord, group

        (queue,) = args
        add, total, fail = core.tasks.add, core.tasks.total, core.tasks.fail
        options = {"queue": queue}
        results = {
            "chain": chain(add.s(1, 2), add.s(3)).apply_async(**options).get(timeout=60),
            "group": group(add.s(i, i) for i in range(4)).apply_async(**options).get(timeout=60),
        }
        header = [add.s(i, i) for i in range(4)]
        try:
            results["chord"] = chord(header, total.s()).apply_async(**options).get(timeout=60)
        except NotImplementedError as error:  # the rpc backend has no chords
            results["chord"] = f"unsupported: {type(error).__name__}"
            print(json.dumps(results))
            return
        failing = chord([add.s(1, 1), fail.s("chord member failed")], total.s())
        try:
            failing.apply_async(**options).get(timeout=60)
            results["failing_chord"] = None
        except Exception as error:  # noqa: BLE001 - the error is the result here
            results["failing_chord"] = f"{type(error).__name__}: {error}"
        print(json.dumps(results))
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
