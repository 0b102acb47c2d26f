# SmartShop Stack: the one place where the stack's generated credentials are read, created and,
# during a rotation, paired with the value they replace.
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import string
import tempfile

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.parsing.vault import VaultLib, is_encrypted, match_encrypt_secret
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: secret
short_description: A generated credential of the stack, kept on the controller (optionally in Ansible Vault)
description:
  - Returns the content of C(<dir>/<host>/<name>), creating it on first use with a random value of
    I(length) letters and digits (file mode 0600, directories 0700). Concurrent hosts (forks) get
    the same value, as creation happens under a lock.
  - With I(vault) true, a file written or read in clear is stored encrypted with the first vault
    password Ansible was given (C(--vault-password-file) or C(ANSIBLE_VAULT_PASSWORD_FILE)).
    Encrypted files are read whatever I(vault) says.
  - A rotation (playbooks/rotate-secrets.yml) draws the new value beside the file, in
    C(<name>.next) (I(rotation=start)). While it exists the lookup returns it (what the clients
    present from then on) and I(previous=true) returns the value it replaces (what the servers keep
    accepting meanwhile); I(rotation=finish) moves it over C(<name>). Without a rotation under way
    I(previous=true) returns an empty string. A program that reads C(<name>) itself keeps the old
    value until the rotation finishes, which the servers accept until then.
options:
  _terms:
    description: Credential file names (for example mysql_app_password).
    required: true
  host:
    description: Inventory host the credential belongs to.
    default: the task's inventory_hostname
  dir:
    description: Controller directory holding one sub-directory per host.
    default: smartshop_secrets_dir, else C(SMARTSHOP_SECRETS_DIR), else ~/.smartshop/secrets
  length:
    description: Length of a generated value.
    type: int
    default: 32
  previous:
    description: Return the value a rotation under way replaces (empty when none).
    type: bool
    default: false
  rotation:
    description: C(start) draws C(<name>.next) when C(<name>) exists and it does not (a new value of
      the same length); C(finish) moves C(<name>.next) over C(<name>). Returns empty strings.
    choices: [start, finish]
  vault:
    description: Store the files encrypted with Ansible Vault.
    type: bool
    default: smartshop_secrets_vault, else false
"""

EXAMPLES = r"""
mysql_app_password: "{{ lookup('smartshop.stack.secret', 'mysql_app_password') }}"
scrape_password: "{{ lookup('smartshop.stack.secret', 'scrape_password', host=groups['monitoring_hosts'][0]) }}"
"""

RETURN = r"""
_raw:
  description: One value per term.
  type: list
  elements: str
"""

ALPHABET = string.ascii_letters + string.digits
NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _not_empty(path: str, value: str) -> str:
    """A stored credential, refused when its file was emptied: the roles would fail on it later
    saying only that the variable is too short, as if the user had set it."""
    if not value:
        raise AnsibleError(
            f"smartshop.stack.secret: {path} is empty. Put back its copy (a backup holds the credentials:"
            " README, Backup and restore), or remove the file: the next run generates a new value and"
            " applies it everywhere it is used."
        )
    return value


def _draw(length: int) -> str:
    """A new random value: `length` letters and digits."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def secrets_root(given: str | None, configured: str | None) -> str:
    root = (
        given
        or configured
        or os.environ.get("SMARTSHOP_SECRETS_DIR")
        or os.path.join(os.path.expanduser("~"), ".smartshop", "secrets")
    )
    return os.path.abspath(os.path.expanduser(str(root).strip()))


@contextlib.contextmanager
def _locked(directory: str):
    """An exclusive lock on the host's directory itself (no lock file left beside the secrets)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        variables = variables or {}
        unknown = set(kwargs) - {"host", "dir", "length", "previous", "rotation", "vault"}
        if unknown:
            raise AnsibleError(f"smartshop.stack.secret: unknown option(s) {sorted(unknown)}")
        host = str(kwargs.get("host") or self._templar.template(variables.get("inventory_hostname", "")) or "")
        if not host or "/" in host or host in (".", ".."):
            raise AnsibleError(f"smartshop.stack.secret: host {host!r} is not an inventory host name")
        # task variables reach a lookup untemplated: the inventory's value is an expression
        configured = (
            self._templar.template(variables["smartshop_secrets_dir"]) if "smartshop_secrets_dir" in variables else None
        )
        root = secrets_root(kwargs.get("dir"), configured)
        try:
            length = int(kwargs.get("length", 32))
        except (TypeError, ValueError):
            raise AnsibleError("smartshop.stack.secret: length must be a whole number") from None
        if not 16 <= length <= 256:
            raise AnsibleError(f"smartshop.stack.secret: length {length} must be between 16 and 256")
        previous = boolean(kwargs.get("previous", False), strict=False)
        rotation = kwargs.get("rotation")
        if rotation not in (None, "start", "finish"):
            raise AnsibleError(f"smartshop.stack.secret: rotation must be start or finish, not {rotation!r}")
        vault = kwargs.get("vault", variables.get("smartshop_secrets_vault", False))
        vault = boolean(self._templar.template(vault), strict=False)

        names = [str(name) for term in terms for name in (term if isinstance(term, (list, tuple)) else [term])]
        values = []
        for name in names:
            if not NAME.match(name):
                raise AnsibleError(f"smartshop.stack.secret: {name!r} is not a credential name (A-Z a-z 0-9 _)")
            path = os.path.join(root, host, name)
            if rotation:
                self._rotate(path, rotation, vault)
                values.append("")
            elif os.path.exists(path + ".next"):  # a rotation is under way
                values.append((self._read(path, vault) if previous else self._read(path + ".next", vault)) or "")
            else:
                values.append("" if previous else self._read_or_create(path, length, vault))
        return values

    def _rotate(self, path: str, step: str, vault: bool) -> None:
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            return
        with _locked(directory):
            if step == "start":
                current = self._read(path, vault)
                if current and not os.path.exists(path + ".next"):
                    self._write(path + ".next", _draw(max(16, len(current))), vault)
            elif os.path.exists(path + ".next"):
                os.replace(path + ".next", path)

    # -- files ------------------------------------------------------------------------------------
    def _read_or_create(self, path: str, length: int, vault: bool) -> str:
        value = self._read(path, vault)
        if value is not None:
            return value
        directory = os.path.dirname(path)
        for folder in (os.path.dirname(directory), directory):  # the root, then the host's
            os.makedirs(folder, mode=0o700, exist_ok=True)
        with _locked(directory):
            value = self._read(path, vault)  # another fork may have written it meanwhile
            if value is None:
                value = _draw(length)
                self._write(path, value, vault)
        return value

    def _read(self, path: str, vault: bool) -> str | None:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnsibleError(f"smartshop.stack.secret: cannot read {path}: {exc.strerror}") from None
        if is_encrypted(data):
            try:
                data = self._loader._vault.decrypt(data)
            except AnsibleError as exc:
                raise AnsibleError(
                    f"smartshop.stack.secret: {path} is encrypted with Ansible Vault and could not be "
                    f"decrypted ({exc.message}); give the vault password (--vault-password-file or "
                    "ANSIBLE_VAULT_PASSWORD_FILE)"
                ) from None
            return _not_empty(path, to_text(data).strip())
        value = _not_empty(path, to_text(data).strip())
        if vault:
            self._write(path, value, vault)  # a copy kept in clear is encrypted on first read
        return value

    def _write(self, path: str, value: str, vault: bool) -> None:
        data = to_bytes(value)
        if vault:
            vault_secrets = self._loader._vault.secrets
            if not vault_secrets:
                raise AnsibleError(
                    "smartshop.stack.secret: smartshop_secrets_vault is true but Ansible was given no vault "
                    "password (--vault-password-file or ANSIBLE_VAULT_PASSWORD_FILE)"
                )
            vault_id, secret = match_encrypt_secret(vault_secrets)
            data = VaultLib(vault_secrets).encrypt(data, secret=secret, vault_id=vault_id)
        else:
            data += b"\n"
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
