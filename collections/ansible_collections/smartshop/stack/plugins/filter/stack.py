"""Filters every role shares: which address other hosts reach a published port on, and which
address a Prometheus scrapes each component at.

advertise_address
-----------------
A port published on one address is reached on that address. A port published on every interface
(0.0.0.0 or ::) is reached on the address the inventory advertises for the host
(``smartshop_advertise_address`` when set), else on ``ansible_host`` (else the inventory name):

    {{ mysql_bind_address | smartshop.stack.advertise_address(smartshop_advertise_address | default(''),
                                                              ansible_host | default(inventory_hostname)) }}

scrape_targets
--------------
Each role that runs something Prometheus scrapes shares a fact describing its endpoints as
``{"local": ["<container>:<port>", ...], "remote": ["<address>:<published port>", ...]}``, where
``remote`` is empty when the ports are not published. A Prometheus reaches the components of its
own host by name on the stack network, and those of the other hosts through the address and port
they publish.

bcrypt_hash
-----------
The bcrypt hash of a password for a basic-auth file (nginx's htpasswd, the exporter-toolkit web
configuration of Prometheus, Alertmanager and the exporters), with a salt derived from the password
and a context, so the file changes only when the password does (a random salt would change it on
every run, and the run would never be idempotent):

    {{ scrape_password | smartshop.stack.bcrypt_hash('node-exporter') }}

mysql_native_hash
-----------------
What MariaDB stores for a mysql_native_password account (``*`` and the upper-case hex of
SHA1(SHA1(password))): the mysql role gives accounts their passwords as hashes, so statements carry
no password, and compares them with what the server holds (a rotation gives an account two).

recorded_images
---------------
The images an earlier run recorded (the images role's manifest, ``images.json``, as read by
``ansible.builtin.slurp``): ``{"images": {component: reference}, "sources": {component: origin}}``.
A manifest that is no such record (cut short by a full disk, edited by hand) is a warning and
reads as none: the images role records it again, and until then the run knows no image, as on a
host where site.yml never ran (it failed on ``from_json``, naming no file):

    {{ __site_manifest_content.content | b64decode | smartshop.stack.recorded_images(path) }}
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

# addresses that bind every interface (and none given): the rule is about them, it binds nothing
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104


def advertise_address(bind_address: str, advertised: str = "", host: str = "") -> str:
    """The address other hosts reach a port published on `bind_address` at."""
    bind_address, advertised, host = (str(v or "").strip() for v in (bind_address, advertised, host))
    if bind_address not in WILDCARDS:
        return bind_address
    if advertised not in WILDCARDS:
        return advertised
    if not host:
        raise AnsibleFilterError(
            "advertise_address: bound to every interface, and no address or host name to advertise"
        )
    return host


def _lookup(variables: Mapping, path: str) -> Mapping:
    value = variables
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return {}
        value = value[key]
    return value


def scrape_targets(hosts: Iterable[str], hostvars: Mapping, fact: str, here: str) -> list[str]:
    """The `host:port` a Prometheus on `here` scrapes for the endpoints each of `hosts` lists in
    `fact` (a dotted path such as ``exporters_targets.node``)."""
    targets: list[str] = []
    for host in hosts:
        if host not in hostvars:
            raise AnsibleFilterError(f"scrape_targets: '{host}' is not in the inventory")
        endpoints = _lookup(hostvars[host], fact)
        if not isinstance(endpoints, Mapping):
            raise AnsibleFilterError(f"scrape_targets: {fact} of {host} is {endpoints!r}, not {{local, remote}}")
        local, remote = list(endpoints.get("local") or []), list(endpoints.get("remote") or [])
        if host == here:
            chosen = local
        elif len(remote) == len(local):
            chosen = remote
        else:
            raise AnsibleFilterError(
                f"{', '.join(local)} on {host} not published, so Prometheus on {here} cannot scrape it: publish it "
                f"(the role's *_publish or *_port variable) on an address {here} reaches, or run Prometheus on {host}."
            )
        targets.extend(target for target in chosen if target not in targets)
    return targets


# bcrypt's own base64 alphabet, in the order of the standard one
_STANDARD_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def bcrypt_hash(password: str, context: str = "", rounds: int = 10) -> str:
    """$2b$ bcrypt hash of `password`, its 16-byte salt derived from the password and `context`."""
    try:
        import bcrypt
    except ImportError as exc:
        raise AnsibleFilterError("bcrypt_hash needs the Python bcrypt library on the controller") from exc
    if not password:
        raise AnsibleFilterError("bcrypt_hash: the password is empty")
    if not 4 <= int(rounds) <= 31:
        raise AnsibleFilterError(f"bcrypt_hash: rounds must be between 4 and 31, not {rounds}")
    seed = hashlib.sha256(f"smartshop-bcrypt\0{context}\0{password}".encode()).digest()[:16]
    encoded = base64.b64encode(seed).rstrip(b"=").translate(bytes.maketrans(_STANDARD_B64, _BCRYPT_B64))
    salt = b"$2b$%02d$" % int(rounds) + encoded
    return bcrypt.hashpw(str(password).encode(), salt).decode()


def mysql_native_hash(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("mysql_native_hash: the password must be a non-empty string")
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324  (the server's own scheme)
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def recorded_images(text: str, path: str = "images.json") -> dict:
    """The manifest's images and sources, or none (and a warning) when it is not a manifest."""
    try:
        record = json.loads(text)
        problem = "" if isinstance(record, dict) else "it is not a JSON object"
    except ValueError as exc:
        record, problem = {}, f"it is not JSON ({exc})"
    for key in ("images", "sources"):
        if not problem and not (
            isinstance(record.get(key), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in record[key].items())
        ):
            problem = f"its '{key}' is not a map of names to strings"
    if problem:
        Display().warning(
            f"{path}, the images an earlier run recorded, is unreadable: {problem}. It is read as no record: "
            "the images role records the images again (a run limited by --tags that skips it knows none)."
        )
        return {"images": {}, "sources": {}}
    return {"images": record["images"], "sources": record["sources"]}


class FilterModule:
    def filters(self):
        return {
            "advertise_address": advertise_address,
            "scrape_targets": scrape_targets,
            "bcrypt_hash": bcrypt_hash,
            "mysql_native_hash": mysql_native_hash,
            "recorded_images": recorded_images,
        }
