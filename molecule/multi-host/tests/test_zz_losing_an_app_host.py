"""Losing an app host under load: the edge on mon1 balances over the four replicas of db1 and app1;
app1 is killed outright (its host container: engine, replicas and console at once, as a power cut,
harsher than stopping its engine) while writers post through the edge and the simulator shops.

Users must see only the requests that were in flight to app1 fail, as JSON gateway errors, and every
write the edge acknowledged must be in the database on db1. Named to run last: app1 stays down (the
scenario's cleanup removes every host)."""

from __future__ import annotations

import subprocess
import threading
import time

from test_multi_host import database, drill, write

WRITERS = 3
BEFORE, AFTER = 8.0, 45.0  # seconds of writes before the kill, and after it
# a request app1 took before it died gets no answer: the edge gives up after its read timeout (30 s)
IN_FLIGHT_WINDOW = 31.0


@drill
def test_killing_app1_under_load_fails_only_in_flight_requests_and_loses_no_acknowledged_write():
    outcomes: list = []
    stop = threading.Event()
    writers = [threading.Thread(target=write, args=(stop, outcomes), daemon=True) for _ in range(WRITERS)]
    for thread in writers:
        thread.start()
    time.sleep(BEFORE)
    killed_at = time.monotonic()
    subprocess.run(["docker", "kill", "mh-host-app1"], check=True, capture_output=True)
    time.sleep(AFTER)
    stop.set()
    for thread in writers:
        thread.join(timeout=90)

    before = [o for o in outcomes if o[1] < killed_at]
    assert before and all(o[2] in (200, 201) for o in before), [o[2:] for o in before if o[2] not in (200, 201)]
    failed = [o for o in outcomes if o[2] not in (200, 201)]
    after = [o for o in outcomes if o[0] >= killed_at + IN_FLIGHT_WINDOW]
    print(
        f"\nlosing app1: {len(outcomes)} writes, {len(failed)} failed "
        f"({sorted({str(o[2]) for o in failed})}), {len(after)} after the window, all answered"
    )
    # the edge stays up: every failure is its JSON gateway error for a request sent to app1 before
    # the edge knew, never a refused connection, a 500 or a 429
    for started, _, status, _, body in failed:
        assert status in (502, 504) and body.get("status") == status and body.get("error"), (status, body)
        assert started < killed_at + IN_FLIGHT_WINDOW, (started - killed_at, status)
    # after that, db1's replicas take everything
    assert len(after) >= 10 and all(o[2] in (200, 201) for o in after), [o[2] for o in after]

    acknowledged = [o[3] for o in outcomes if o[3] is not None]
    with database() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM users WHERE id BETWEEN %s AND %s", (min(acknowledged), max(acknowledged)))
        stored = {row[0] for row in cursor.fetchall()}
    assert set(acknowledged) <= stored, sorted(set(acknowledged) - stored)
