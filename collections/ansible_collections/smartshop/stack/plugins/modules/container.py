# The documentation of the smartshop.stack.container action (plugins/action/container.py), which
# does the work on the controller and runs community.docker.docker_container on the host.

DOCUMENTATION = r"""
---
module: container
short_description: Run a container of the SmartShop stack the one way every role does
description:
  - Fills in what every container of the stack shares (network and aliases, the
    C(com.smartshop.project) and C(com.smartshop.component) labels, restart policy, json-file log
    rotation, wait until healthy) and runs M(community.docker.docker_container) with it.
  - One-shot commands (migrations, traffic bursts) run with I(state=completed).
  - With I(state=healthy) or I(state=started), a change that recreates a running container keeps
    the old one aside (stopped, C(<name>-previous), by M(smartshop.stack.container_aside)) until
    the new one runs and, for C(healthy), passes its check; then the old one is removed. When the
    new one does not start (a port taken) or is not healthy, it is removed and the old one put back,
    started and waited healthy; the task fails with the cause, then says it rolled back.
options:
  name: {description: Container name., type: str, required: true}
  image: {description: Image reference (required unless I(state) is absent or restarted)., type: str}
  component:
    description: Value of the C(com.smartshop.component) label (required unless absent or restarted).
    type: str
  project:
    description: Value of the C(com.smartshop.project) label; by default C(smartshop_project).
    type: str
  network: {description: The stack network the container joins (its only network)., type: str}
  aliases: {description: DNS aliases on that network., type: list, elements: str, default: []}
  command: {description: Arguments passed to the image's entrypoint., type: list, elements: str}
  entrypoint:
    description: "Replaces the image's entrypoint (a one-shot helper running a shell, for example)."
    type: list
    elements: str
  env: {description: Environment (values are strings or numbers; secrets go in files)., type: dict, default: {}}
  user: {description: User (uid:gid) the process runs as when not the image's., type: str}
  mounts:
    description:
      - Mounts as M(community.docker.docker_container) takes them; named volumes are created first, labelled.
      - A named volume that exists and is not the stack's (its C(com.smartshop.project) label differs or is
        missing) fails the task before the container is made; the volume is left as it is.
    type: list
    elements: dict
    default: []
  published_ports: {description: "C(address:host_port:container_port) entries.", type: list, elements: str, default: []}
  healthcheck: {description: Healthcheck when the image's is not the one wanted., type: dict}
  labels: {description: Labels added to the project and component ones., type: dict, default: {}}
  restart_policy:
    description: Restart policy (one-shot containers have none).
    type: str
    default: unless-stopped
    choices: ["no", on-failure, always, unless-stopped]
  restart: {description: Restart the container even when nothing about it changed., type: bool, default: false}
  state:
    description:
      - C(healthy) starts it and waits until its healthcheck (the task's or the image's) passes. The
        action runs the check in the container at once, then every half second, rather than wait
        for Docker 20.10's first check one interval after start; Docker's own verdict follows.
        C(started) does not wait.
      - C(completed) runs a one-shot command to its end (a non-zero exit fails the task) and removes it.
      - C(restarted) restarts an existing container; C(absent) removes it.
      - C(reloaded) (for handlers) runs I(reload_command) inside the container when it is running
        and reports a change; one absent or not running is left as it is (it reads its
        configuration when it starts); a paused one fails. In check mode nothing runs.
    type: str
    default: healthy
    choices: [healthy, started, absent, completed, restarted, reloaded]
  healthy_timeout: {description: Seconds to wait for C(healthy)., type: int, default: 60}
  log_max_size: {description: Size at which the json-file log is rotated., type: str, default: 10m}
  log_max_files: {description: Rotated log files kept., type: int, default: 3}
  read_only:
    description: Read-only root filesystem; a process writes only to I(mounts) and I(tmpfs).
    type: bool
    default: true
  tmpfs:
    description: "C(path:options) tmpfs mounts, where a process must write (C(/tmp:size=64m))."
    type: list
    elements: str
    default: []
  cap_add:
    description: Capabilities given back after every one is dropped; say at the call why the process needs each.
    type: list
    elements: str
    default: []
  memory: {description: Memory limit (C(512m), C(1g)); required for every running state., type: str}
  pids_limit:
    description: Most processes and threads the container may have; required for every running state.
    type: int
  stop_timeout: {description: Seconds between SIGTERM and SIGKILL on stop (the engine's default is 10)., type: int}
  reload_command:
    description: "Command run inside the container for I(state=reloaded) (C([sh, -c, 'kill -HUP 1']))."
    type: list
    elements: str
author: SmartShop Stack
"""

EXAMPLES = r"""
- name: Run Prometheus
  smartshop.stack.container:
    name: smartshop-prometheus
    image: "{{ prometheus_image }}"
    component: prometheus
    network: monitoring-network
    aliases: [prometheus]
    command: [--config.file=/etc/prometheus/prometheus.yml]
    published_ports: ["127.0.0.1:9090:9090"]
    memory: 1g
    pids_limit: 256
    tmpfs: ["/tmp:size=16m"]
    healthy_timeout: 90

- name: Reload Prometheus (a handler)
  smartshop.stack.container:
    name: smartshop-prometheus
    state: reloaded
    reload_command: [sh, -c, "kill -HUP 1"]
"""

RETURN = r"""
container:
  description: What M(community.docker.docker_container) returns about the container.
  returned: unless absent, or when a failed change was rolled back (the container it described is gone)
  type: dict
rolled_back:
  description: A change failed and the container that ran before it was put back (and is healthy, for C(healthy)).
  returned: when a change that recreated a running container failed
  type: bool
"""
