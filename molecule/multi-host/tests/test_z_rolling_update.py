"""A rolling update: a change to the backend's settings (backend_threads) applied by site.yml while
writers post through the edge on mon1 and the simulator shops through it. The app hosts take their
turn one at a time; each is drained from the edge before its replicas are replaced and given back
once the new ones are healthy. Users see no failed request: not one writer's, not one shopper's.
Draining reloads the edge's nginx, which closes its idle kept-alive connections; a request a client
sent on one at that instant gets no answer, and the client sends it again on a new connection
(with the same Idempotency-Key: nothing is created twice), as HTTP clients do. The writers and the
simulator both do; those sendings again are counted and printed, and every request is answered as
expected in the end.
Then a change the replicas cannot run under (a database port nothing listens on): the first app host
is drained, its first new replica fails its health check and the old one is put back, the host is
given back to the edge, and the run stops there: the second app host is never touched, and users see
no failed request.
Named to run after test_multi_host.py and before test_zz_losing_an_app_host.py (which takes app1
away)."""

from __future__ import annotations

import json
import threading
import time

from test_multi_host import APP_HOSTS, ansible_playbook, database, drill, failures, prometheus, ssh, write

REPLICAS = (1, 2)
WRITERS = 3
THREADS = 6  # the scenario converged with the role's default, 8
SIMULATOR = {
    "requests": "sum(smartshop_simulator_requests_total)",
    "unexpected": "sum(smartshop_simulator_unexpected_responses_total) or vector(0)",
    "retries": "sum(smartshop_simulator_retries_total)",
}


def simulator_counts(after: float) -> dict[str, float]:
    """The simulator's counters in a scrape taken after the epoch second `after`."""
    deadline = time.monotonic() + 60
    while True:
        (sample,) = prometheus("/api/v1/query", query="max(timestamp(smartshop_simulator_requests_total))")["data"][
            "result"
        ]
        if float(sample["value"][1]) > after:
            break
        assert time.monotonic() < deadline, "no scrape of the simulator after the roll"
        time.sleep(2)
    return {
        name: float(prometheus("/api/v1/query", query=query)["data"]["result"][0]["value"][1])
        for name, query in SIMULATOR.items()
    }


def turns(output: dict) -> list[tuple[str, str, bool]]:
    """(host, step, changed) in the order the run took them: the dry run (check mode) that finds the
    replicas would be replaced, draining, replacing, giving back."""
    steps = {
        "Take the app host's replicas out of the edge": "drained",
        "Run the API replicas": "replaced",
        "Give the app host's replicas back to the edge": "given back",
    }
    taken = []
    for play in output["plays"]:
        for entry in play["tasks"]:
            name = entry["task"]["name"].split(" : ", 1)[-1]  # a role's task is named "<role> : <name>"
            step = next((s for prefix, s in steps.items() if name.startswith(prefix)), None)
            for host, outcome in entry["hosts"].items():
                if step and not outcome.get("skipped"):
                    taken.append((host, step, bool(outcome.get("changed"))))
    return taken


def replica_names(host: str) -> str:
    """The app host's replicas, as `docker inspect` takes them."""
    return " ".join(f"mh-{host}-backend-{n}" for n in REPLICAS)


def assert_the_edge_drains_no_replica() -> None:
    """mon1's edge has no replica marked down: every app host was given back."""
    conf = ssh("mon1", "sudo docker exec mh-mon1-edge grep -c ' down;' /run/smartshop/nginx.conf")
    assert conf.stdout.strip() == "0", conf.stdout + conf.stderr


def under_writes(*args: str) -> tuple[int, dict, list, list, float]:
    """site.yml with `args` on the scenario's hosts while WRITERS post through the edge (from 5 s
    before to 5 s after): its exit code and JSON output, the writes' outcomes, the keys sent again
    (write()) and how long the run took."""
    outcomes: list = []
    resent: list = []
    stop = threading.Event()
    writers = [threading.Thread(target=write, args=(stop, outcomes, resent), daemon=True) for _ in range(WRITERS)]
    for thread in writers:
        thread.start()
    time.sleep(5)
    started = time.monotonic()
    code, output = ansible_playbook("site.yml", *args)
    took = time.monotonic() - started
    time.sleep(5)
    stop.set()
    for thread in writers:
        thread.join(timeout=90)
    return code, output, outcomes, resent, took


@drill
def test_a_backend_change_rolls_through_the_app_hosts_one_at_a_time_and_fails_no_request():
    before = simulator_counts(time.time() - 30)
    code, output, outcomes, resent, rolled_in = under_writes("--tags", "backend", "-e", f"backend_threads={THREADS}")
    ended = time.time()
    assert code == 0, failures(output)
    print(f"\nrolling update: {turns(output)}")

    # each app host in turn: out of the edge, replicas replaced, back; one host's turn ends before
    # the next begins (site.yml's serial), so the edge always has a host to send requests to
    taken = [(host, step) for host, step, changed in turns(output) if changed]
    steps = ("replaced", "drained", "replaced", "given back")  # the first "replaced" is the dry run
    order = [taken[0][0], *(h for h in APP_HOSTS if h != taken[0][0])]  # the play's order of hosts
    assert taken == [(host, step) for host in order for step in steps], taken

    failed = [o for o in outcomes if o[2] not in (200, 201)]
    after = simulator_counts(ended)
    print(
        f"\nrolling update: {rolled_in:.0f} s, {len(outcomes)} writes, {len(failed)} failed, {len(resent)} sent again"
        f" after the edge closed their connection; simulator "
        f"{after['requests'] - before['requests']:.0f} requests, {after['unexpected'] - before['unexpected']:.0f} "
        f"unexpected, {after['retries'] - before['retries']:.0f} retried"
    )
    assert len(outcomes) > 100 and not failed, [o[2:] for o in failed]
    assert after["requests"] - before["requests"] > 100, (before, after)
    assert after["unexpected"] == before["unexpected"], (before, after)  # its retries are printed above
    acknowledged = [o[3] for o in outcomes]
    assert len(set(acknowledged)) == len(acknowledged), "a write sent again was answered with a second user"
    with database() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM users WHERE id BETWEEN %s AND %s", (min(acknowledged), max(acknowledged)))
        stored = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key IN %s", (resent or ["-"],))
        (keys,) = cursor.fetchone()
    assert set(acknowledged) <= stored, sorted(set(acknowledged) - stored)
    assert keys == len(resent), (keys, resent)  # each write sent again is in the database once

    # the change is applied everywhere, and the edge is left with no replica drained
    for host in APP_HOSTS:
        env = ssh(host, f"sudo docker inspect --format '{{{{json .Config.Env}}}}' {replica_names(host)}")
        assert env.returncode == 0, env.stderr
        assert all(f"SMARTSHOP_THREADS={THREADS}" in json.loads(line) for line in env.stdout.splitlines()), env.stdout
    assert_the_edge_drains_no_replica()


def replica_ids() -> dict[str, list[str]]:
    """Each app host's replicas: the container ids, running ones only."""
    ids = {}
    for host in APP_HOSTS:
        found = ssh(host, f"sudo docker inspect --format '{{{{.Id}}}} {{{{.State.Running}}}}' {replica_names(host)}")
        assert found.returncode == 0, found.stderr
        ids[host] = [line.split()[0] for line in found.stdout.splitlines() if line.endswith(" true")]
    return ids


@drill
def test_a_failed_backend_change_stops_at_the_first_app_host_puts_its_replica_back_and_fails_no_request():
    before = replica_ids()
    assert all(len(ids) == len(REPLICAS) for ids in before.values()), before
    # only the replicas' step (the migrations would fail first on that port): as they run now, but
    # for a database port nothing listens on
    code, output, outcomes, resent, _ = under_writes(
        "--tags", "backend_run", "-e", f"backend_threads={THREADS}", "-e", "backend_db_port=1",
        "-e", "backend_healthy_timeout=20",
    )  # fmt: skip
    print(f"\nfailed rolling update: {turns(output)}; {len(outcomes)} writes, {len(resent)} sent again")
    assert code != 0, json.dumps(output["stats"])

    # the first app host: drained, its first replica replaced and put back, given back; the second
    # app host: not even its dry run
    taken = [(host, step) for host, step, changed in turns(output) if changed]
    first = taken[0][0] if taken else None
    assert taken == [(first, "replaced"), (first, "drained"), (first, "replaced"), (first, "given back")], taken
    (failed_replica,) = [
        result
        for play in output["plays"]
        for entry in play["tasks"]
        if entry["task"]["name"].endswith("Run the API replicas")
        for host, outcome in entry["hosts"].items()
        if host == first and not outcome.get("skipped")
        for result in outcome.get("results", [])
        if result.get("failed")
    ]
    assert failed_replica["rolled_back"], failed_replica["msg"]
    assert f"Rolled back: the previous container mh-{first}-backend-1" in failed_replica["msg"], failed_replica["msg"]
    assert output["stats"][first]["failures"] == 1, output["stats"]

    # the same containers run everywhere, the edge sends requests to all of them again, and no
    # request failed on the way
    assert replica_ids() == before
    assert_the_edge_drains_no_replica()
    failed = [o for o in outcomes if o[2] not in (200, 201)]
    assert len(outcomes) > 50 and not failed, [o[2:] for o in failed]

    # nothing of the failed change is left to undo: the replicas' step with the settings they run
    # under changes nothing
    code, output = ansible_playbook("site.yml", "--tags", "backend_run", "-e", f"backend_threads={THREADS}")
    assert code == 0, failures(output)
    assert all(stats["changed"] == 0 for stats in output["stats"].values()), output["stats"]
