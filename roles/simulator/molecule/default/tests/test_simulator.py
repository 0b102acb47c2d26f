"""The simulator role: a healthy service sending traffic at the configured rate, metrics on 9200."""

import json
import time


def status(host):
    code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9200/status').read().decode())"
    out = host.run(f'docker exec mol-simulator-simulator python3 -c "{code}"')
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def test_service_is_healthy_and_non_root(host):
    c = host.docker("mol-simulator-simulator").inspect()
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["Config"]["User"] == "10003:10003"
    assert c["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"


def test_traffic_flows_at_the_rate(host):
    first = status(host)
    time.sleep(5)
    second = status(host)
    assert second["requested_rps"] == 10.0
    assert second["requests"] > first["requests"]
    assert abs(second["achieved_rps"] - 10) <= 2, second
    assert second["unexpected"] == {}, second
    assert second["users_created"] > 0
