"""The smartshop.stack.container action: what every container of the stack shares is filled in
once, and each state maps to the community.docker.docker_container arguments it needs. (The
action itself runs against the real engine in every Molecule scenario.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from stack_collection import COLLECTION, plugin

ROOT = Path(__file__).resolve().parent.parent
action = plugin("action", "container")


def args(**given):
    defaults = {key: spec.get("default") for key, spec in action.ARGUMENT_SPEC.items()}
    base = {
        "name": "s-prometheus",
        "image": "prom:1",
        "component": "prometheus",
        "network": "net",
        "memory": "1g",
        "pids_limit": 256,
    }
    return {**defaults, **base, **given}


def test_a_service_gets_labels_network_log_rotation_restart_policy_and_is_started_for_the_action_to_wait():
    module = action.container_args(args(aliases=["prometheus"], healthy_timeout=90), "shop")
    assert module["labels"] == {"com.smartshop.project": "shop", "com.smartshop.component": "prometheus"}
    assert module["networks"] == [{"name": "net", "aliases": ["prometheus"]}]
    assert module["network_mode"] == "net" and module["networks_cli_compatible"] is True
    assert module["log_driver"] == "json-file"
    assert module["log_options"] == {"max-size": "10m", "max-file": "3"}
    assert module["restart_policy"] == "unless-stopped"
    # the action waits, running the health check itself: not docker_container, which polls for
    # Docker's verdict (the first one comes an interval after the start)
    assert module["state"] == "started" and "healthy_wait_timeout" not in module


def inspected(test, timeout=None):
    check = {"Test": test, "Interval": 5 * 10**9}
    if timeout is not None:
        check["Timeout"] = timeout
    return {"Config": {"Healthcheck": check}}


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        (inspected(["CMD-SHELL", "wget -q https://127.0.0.1:9090/-/ready; test $? -eq 6"], 5 * 10**9),
         ["timeout", "5", "/bin/sh", "-c", "wget -q https://127.0.0.1:9090/-/ready; test $? -eq 6"]),
        (inspected(["CMD", "healthcheck.sh", "--connect"], 3 * 10**9), ["timeout", "3", "healthcheck.sh", "--connect"]),
        (inspected(["CMD", "true"], 200 * 10**6), ["timeout", "1", "true"]),  # never under a second
        (inspected(["CMD", "true"]), ["timeout", "30", "true"]),  # Docker's default timeout
        (inspected(["NONE"]), None),  # disabled
        (inspected([]), None),
        ({"Config": {}}, None),  # no check: running is all there is to wait for
        (None, None),
    ],
)  # fmt: skip
def test_the_probe_is_the_containers_own_check_bounded_by_its_timeout(container, argv):
    assert action.probe_argv(container) == argv


def test_health_reads_the_status_and_the_verdict():
    starting = {"State": {"Status": "running", "Health": {"Status": "starting"}}}
    assert action.health_of(starting) == ("running", "starting")
    assert action.health_of({"State": {"Status": "exited"}}) == ("exited", "")
    assert action.health_of(None) == ("", "")


def test_a_one_shot_runs_to_its_end_and_is_removed():
    module = action.container_args(args(state="completed", command=["migrate"]), "shop")
    assert (module["state"], module["detach"], module["cleanup"], module["restart_policy"]) == (
        "started",
        False,
        True,
        "no",
    )
    assert "healthy_wait_timeout" not in module
    assert module["log_options"]["max-size"] == "10m"


def test_named_volumes_are_created_with_the_stack_labels_bind_mounts_are_not():
    mounts = [
        {"type": "volume", "source": "s-prometheus-data", "target": "/prometheus"},
        {"type": "bind", "source": "/etc/smartshop/p", "target": "/etc/prometheus"},
    ]
    assert action.volume_args(args(mounts=mounts), "shop") == [
        {
            "name": "s-prometheus-data",
            "labels": {"com.smartshop.project": "shop", "com.smartshop.component": "prometheus"},
            "state": "present",
        }
    ]
    assert action.volume_args(args(mounts=mounts, state="absent"), "shop") == []


def test_removal_and_restart_need_only_the_name():
    assert action.container_args(args(image=None, state="absent"), "shop") == {
        "name": "s-prometheus",
        "state": "absent",
    }
    assert action.container_args(args(image=None, state="restarted"), "shop") == {
        "name": "s-prometheus",
        "state": "started",
        "restart": True,
    }


def test_a_running_state_without_an_image_is_refused():
    with pytest.raises(AnsibleActionFail, match="image required"):
        action.container_args(args(image=None), "shop")


TMPFS = "/tmp:size=16m"  # noqa: S108 - a tmpfs inside the container


def test_every_container_drops_capabilities_gains_no_privileges_and_runs_read_only_with_limits():
    module = action.container_args(args(tmpfs=[TMPFS], stop_timeout=60), "shop")
    assert module["cap_drop"] == ["ALL"] and module["capabilities"] == []
    assert module["security_opts"] == ["no-new-privileges"]
    assert module["read_only"] is True and module["tmpfs"] == [TMPFS]
    assert (module["memory"], module["pids_limit"], module["stop_timeout"]) == ("1g", 256, 60)
    one_shot = action.container_args(args(state="completed", command=["migrate"]), "shop")
    assert (one_shot["cap_drop"], one_shot["read_only"], one_shot["memory"]) == (["ALL"], True, "1g")
    assert action.container_args(args(cap_add=["net_bind_service"]), "shop")["capabilities"] == ["NET_BIND_SERVICE"]
    assert action.container_args(args(read_only=False), "shop")["read_only"] is False


@pytest.mark.parametrize("missing", ["memory", "pids_limit"])
def test_a_running_container_without_limits_is_refused(missing):
    with pytest.raises(AnsibleActionFail, match=f"{missing} required"):
        action.container_args(args(**{missing: None}), "shop")


def test_a_pids_limit_that_is_not_positive_is_refused():
    with pytest.raises(AnsibleActionFail, match="pids_limit must be a positive"):
        action.container_args(args(pids_limit=-1), "shop")


def test_the_project_labels_cannot_be_overridden_by_extra_labels():
    module = action.container_args(args(labels={"com.smartshop.project": "other", "com.smartshop.replica": 2}), "shop")
    assert module["labels"]["com.smartshop.project"] == "shop"
    assert module["labels"]["com.smartshop.replica"] == "2"


def test_env_values_are_strings_and_structures_are_refused():
    assert action.container_args(args(env={"PORT": 3306, "RATIO": 0.8}), "shop")["env"] == {
        "PORT": "3306",
        "RATIO": "0.8",
    }
    with pytest.raises(AnsibleActionFail, match="env FLAG"):
        action.container_args(args(env={"FLAG": True}), "shop")


def test_the_documentation_lists_exactly_the_arguments():
    text = (COLLECTION / "plugins" / "modules" / "container.py").read_text()
    doc = yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', text, re.S).group(1))
    assert set(doc["options"]) == set(action.ARGUMENT_SPEC)
    for name, spec in action.ARGUMENT_SPEC.items():
        assert doc["options"][name]["type"] == spec["type"], name
        assert doc["options"][name].get("default") == spec.get("default"), name


def test_every_stack_container_goes_through_the_action():
    """No role or playbook runs community.docker.docker_container itself (Molecule scaffolding may)."""
    offenders = [
        str(path.relative_to(ROOT))
        for base in ("roles", "playbooks")
        for path in (ROOT / base).rglob("*.yml")
        if "molecule" not in path.parts and "community.docker.docker_container:" in path.read_text()
    ]
    assert offenders == []


def test_every_option_the_action_sets_is_compared_strictly():
    """docker_container's default for lists and dicts accepts more than asked: a dropped env variable,
    mount or published port stayed on the container (tests/test_container_engine.py shows it removed)."""
    module = action.container_args(args(), "shop")
    assert module["comparisons"] == dict.fromkeys(action.STRICT, "strict")
    assert {"env", "mounts", "published_ports", "tmpfs", "labels"} <= set(action.STRICT)
    assert set(action.STRICT) <= set(module), "a strict comparison for an option the action never sets"


@pytest.mark.parametrize(
    ("engine", "address", "port"),
    [
        # the userland proxy off (docker_host's daemon.json): the engine binds the port itself
        ('Internal Server Error ("driver failed programming external connectivity on endpoint s-x (ab12):'
         ' listen tcp4 127.0.0.1:43000: bind: address already in use")', "127.0.0.1", "43000"),
        # the userland proxy on, or a port another container publishes
        ('Internal Server Error ("driver failed programming external connectivity on endpoint s-x (ab12):'
         ' Bind for 0.0.0.0:8000 failed: port is already allocated")', "0.0.0.0", "8000"),  # noqa: S104
        ("listen tcp6 [::1]:3000: bind: address already in use", "::1", "3000"),
    ],
)  # fmt: skip
def test_a_port_taken_is_explained_before_the_engine_words(engine, address, port):
    message = action.explain_failure("s-console", engine)
    assert message.startswith(f"container s-console cannot publish port {port} on {address}: another process")
    assert f"ss -ltnp 'sport = :{port}'" in message
    assert message.endswith(engine)


def test_other_failures_keep_the_engine_words():
    assert action.explain_failure("s-x", "No such image: prom:1") == "No such image: prom:1"


@pytest.mark.parametrize(
    ("info", "verdict"),
    [
        ({"exists": True, "container": {"State": {"Status": "running"}}}, None),
        ({"exists": False, "container": None}, "skip"),
        ({"exists": True, "container": {"State": {"Status": "exited"}}}, "skip"),
        ({"exists": True, "container": {"State": {"Status": "created"}}}, "skip"),
        ({"exists": True, "container": {"State": {"Status": "restarting"}}}, "skip"),
    ],
)
def test_a_reload_runs_only_in_a_running_container(info, verdict):
    assert action.reload_verdict("s-prometheus", info) == verdict


def test_a_paused_container_fails_a_reload_saying_how_to_resume():
    message = action.reload_verdict("s-prometheus", {"exists": True, "container": {"State": {"Status": "paused"}}})
    assert message.startswith("container s-prometheus is paused")
    assert "docker unpause s-prometheus" in message


def test_a_handler_reloads_through_the_action_not_an_exec_of_its_own():
    """The reload handlers share one rule (a container not running is left as it is): the action's."""
    handlers = sorted(ROOT.glob("roles/*/handlers/main.yml"))
    tasks = [task for path in handlers for task in yaml.safe_load(path.read_text()) or []]
    assert [t["name"] for t in tasks if "community.docker.docker_container_exec" in t] == []
    reloads = [t for t in tasks if t.get("smartshop.stack.container", {}).get("state") == "reloaded"]
    assert len(reloads) >= 4, [t["name"] for t in reloads]
    assert all(t["smartshop.stack.container"].get("reload_command") for t in reloads)


RUNNING = {"State": {"Running": True}}


@pytest.mark.parametrize(
    ("actions", "container", "move"),
    [
        ([], RUNNING, None),  # nothing to do
        ([{"started": "id"}], {"State": {"Running": False}}, None),  # a stopped one started: nothing to keep
        ([{"updated": "id", "update_parameters": {}}], RUNNING, None),  # limits changed in place
        ([{"removed": "id"}, {"created": "Created container"}, {"started": "new"}], RUNNING, "recreate"),
        ([{"removed": "id"}, {"created": "Created container"}], {"State": {"Running": False}}, None),
        ([{"created": "Created container"}, {"started": "new"}], None, "create"),
    ],
)
def test_only_a_running_container_recreated_is_set_aside(actions, container, move):
    assert action.replacement({"changed": bool(actions), "actions": actions, "container": container}) == move


def test_the_aside_modules_documentation_is_its_argument_spec():
    module = plugin("modules", "container_aside")
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert set(documented) == set(module.ARGUMENT_SPEC)
    for option, spec in module.ARGUMENT_SPEC.items():
        for key in ("type", "required", "choices", "default"):
            assert documented[option].get(key) == spec.get(key), (option, key)
    assert module.previous_name("smartshop-mysql") == "smartshop-mysql-previous"


def test_a_dry_run_knows_a_missing_network_only_by_the_containers_own():
    said = "Parameter error: network named s-net could not be found. Does it exist?"
    assert action.network_missing(said, args(network="s-net"))
    assert not action.network_missing(said, args(network="other-net"))
    assert not action.network_missing("Error pulling image", args(network="s-net"))


@pytest.mark.parametrize(
    ("labels", "refused"),
    [({"com.smartshop.project": "p"}, False), ({"com.smartshop.project": "q"}, True), ({}, True), (None, True)],
)
def test_a_plan_to_replace_a_container_of_another_project_is_refused(labels, refused):
    plan = {"changed": True, "container": {"Id": "abc", "Config": {"Labels": labels}}}
    assert (action.stranger("s-mysql", plan, "p") is not None) is refused
    assert action.stranger("s-mysql", {**plan, "changed": False}, "p") is None  # nothing would change
    assert action.stranger("s-mysql", {"changed": True, "container": {}}, "p") is None  # it would be created


@pytest.mark.parametrize(
    ("labels", "refused"),
    [({"com.smartshop.project": "p"}, False), ({"com.smartshop.project": "q"}, True), ({}, True), (None, True)],
)
def test_a_volume_of_another_project_is_never_mounted(labels, refused):
    volume = {"Name": "p-mysql-data", "Labels": labels}
    said = action.foreign_volume(volume, "p")
    assert (said is not None) is refused
    if refused:
        assert said.startswith("volume p-mysql-data exists and is ")
        assert "nothing was changed" in said and "docker volume rm p-mysql-data" in said
    assert action.foreign_volume(None, "p") is None  # none yet (a dry run): it would be created
