"""The lookup smartshop.stack.secret, run by ansible-playbook: every generated credential of the
stack is read or created through it (files 0600 in directories 0700, one value per credential even
when many hosts ask at once, Ansible Vault on request, the value a rotation replaces)."""

import json
import stat
from pathlib import Path

import pytest

PLAY = """
- name: Read credentials
  hosts: all
  gather_facts: false
  connection: local
  tasks:
    - name: Read them
      ansible.builtin.set_fact:
        __values: "{{{{ {values} }}}}"
    - name: Keep what every host read
      ansible.builtin.copy:
        content: >-
          {{{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, '__values'))) | to_json }}}}
        dest: "{out}"
        mode: "0600"
      run_once: true
"""


def run(ansible_playbook, tmp_path: Path, values: str, *args: str, hosts: int = 1):
    """Run PLAY on `hosts` local hosts; returns (exit code, output, {host: values})."""
    out = tmp_path / "out.json"
    out.unlink(missing_ok=True)
    (tmp_path / "play.yml").write_text(PLAY.format(values=values, out=out))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("".join(f"h{i}\n" for i in range(hosts)))
    code, output = ansible_playbook("-i", str(inventory), str(tmp_path / "play.yml"), *args)
    return code, output, (json.loads(out.read_text()) if out.exists() else {})


def test_created_once_private_and_stable(ansible_playbook, tmp_path):
    values = (
        "[lookup('smartshop.stack.secret', 'api_operator_token', length=43),"
        " lookup('smartshop.stack.secret', 'x_password')]"
    )
    code, output, read = run(ansible_playbook, tmp_path, values)
    assert code == 0, output
    token, password = read["h0"]
    assert len(token) == 43 and token.isalnum()
    assert len(password) == 32 and password.isalnum()
    folder = tmp_path / "secrets" / "h0"
    assert (folder / "api_operator_token").read_text() == token + "\n"
    assert stat.S_IMODE((folder / "api_operator_token").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["api_operator_token", "x_password"]  # no lock file
    # the second run reads what the first wrote
    code, output, again = run(ansible_playbook, tmp_path, values)
    assert code == 0, output
    assert again == read


def test_many_hosts_at_once_get_one_value(ansible_playbook, tmp_path):
    code, output, read = run(
        ansible_playbook, tmp_path, "lookup('smartshop.stack.secret', 'scrape_password', host='monitor')", hosts=12
    )
    assert code == 0, output
    assert len(read) == 12
    assert len(set(read.values())) == 1
    assert (tmp_path / "secrets" / "monitor" / "scrape_password").read_text().strip() == read["h0"]


def test_a_rotation_draws_the_next_value_beside_the_current_one(ansible_playbook, tmp_path):
    """rotation=start draws <name>.next: the lookup returns it (what clients present) and
    previous=true the value it replaces (what servers still accept); rotation=finish promotes it."""
    values = "[lookup('smartshop.stack.secret', 'x_password'),"
    values += " lookup('smartshop.stack.secret', 'x_password', previous=true)]"
    code, output, read = run(ansible_playbook, tmp_path, values)
    assert code == 0, output
    old, previous = read["h0"]
    assert previous == ""
    folder = tmp_path / "secrets" / "h0"
    assert not (folder / "x_password.next").exists()

    start = "lookup('smartshop.stack.secret', ['x_password', 'never_made'], rotation='start')"
    assert run(ansible_playbook, tmp_path, start)[0] == 0
    new = (folder / "x_password.next").read_text().strip()
    assert len(new) == len(old) and new != old
    assert not (folder / "never_made").exists() and not (folder / "never_made.next").exists()
    assert stat.S_IMODE((folder / "x_password.next").stat().st_mode) == 0o600
    code, output, read = run(ansible_playbook, tmp_path, values)
    assert read["h0"] == [new, old]
    assert (folder / "x_password").read_text().strip() == old  # readers of the file keep the old value
    # started twice (a rotation resumed), the value drawn first stays
    assert run(ansible_playbook, tmp_path, start)[0] == 0
    assert (folder / "x_password.next").read_text().strip() == new

    finish = "lookup('smartshop.stack.secret', 'x_password', rotation='finish')"
    assert run(ansible_playbook, tmp_path, finish)[0] == 0
    code, output, read = run(ansible_playbook, tmp_path, values)
    assert read["h0"] == [new, ""]
    assert not (folder / "x_password.next").exists()


def test_vault_keeps_the_copies_encrypted(ansible_playbook, tmp_path):
    vault_password = tmp_path / "vault-pass"
    vault_password.write_text("correct horse battery staple\n")
    folder = tmp_path / "secrets" / "h0"
    folder.mkdir(parents=True, mode=0o700)
    (folder / "clear_password").write_text("KeptInClearUntilNow42\n")
    values = "[lookup('smartshop.stack.secret', 'new_password'), lookup('smartshop.stack.secret', 'clear_password')]"
    vault = ("-e", "smartshop_secrets_vault=true", "--vault-password-file", str(vault_password))
    code, output, read = run(ansible_playbook, tmp_path, values, *vault)
    assert code == 0, output
    new, clear = read["h0"]
    assert clear == "KeptInClearUntilNow42"
    for name, value in (("new_password", new), ("clear_password", clear)):
        content = (folder / name).read_text()
        assert content.startswith("$ANSIBLE_VAULT;1.1;AES256"), name
        assert value not in content
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    # encrypted copies are read without the option, with the password
    code, output, again = run(ansible_playbook, tmp_path, values, "--vault-password-file", str(vault_password))
    assert code == 0, output
    assert again == read
    # and without the password the run stops, naming what is missing
    code, output, _ = run(ansible_playbook, tmp_path, values)
    assert code != 0
    assert "encrypted with Ansible Vault" in output and "--vault-password-file" in output
    # asking for Vault without a password is refused before anything is written in clear
    code, output, _ = run(
        ansible_playbook,
        tmp_path,
        "lookup('smartshop.stack.secret', 'other_password')",
        "-e",
        "smartshop_secrets_vault=true",
    )
    assert code != 0
    assert "no vault password" in output
    assert not (folder / "other_password").exists()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("lookup('smartshop.stack.secret', '../escape')", "is not a credential name"),
        ("lookup('smartshop.stack.secret', 'x', host='../up')", "is not an inventory host name"),
        ("lookup('smartshop.stack.secret', 'x', length=8)", "must be between 16 and 256"),
        ("lookup('smartshop.stack.secret', 'x', lenght=20)", "unknown option"),
    ],
)
def test_bad_input_is_refused_by_name(ansible_playbook, tmp_path, expression, message):
    code, output, _ = run(ansible_playbook, tmp_path, expression)
    assert code != 0
    assert message in output
    assert not (tmp_path / "secrets").exists() or not any((tmp_path / "secrets").rglob("*x*"))


def test_an_emptied_file_is_refused_naming_it_and_what_to_do(ansible_playbook, tmp_path):
    # the roles' checks would say "mysql_app_password must be a string of at least 16 characters ...
    # leave it unset to have one generated", as if the user had set it
    folder = tmp_path / "secrets" / "h0"
    folder.mkdir(parents=True, mode=0o700)
    (folder / "x_password").write_text("\n")
    code, output, _ = run(ansible_playbook, tmp_path, "lookup('smartshop.stack.secret', 'x_password')")
    assert code != 0, output
    assert f"{folder / 'x_password'} is empty. Put back its copy" in output, output[-2000:]
    assert "or remove the file: the next run generates a new value" in output
    assert (folder / "x_password").read_text() == "\n"  # left as it is, for the user to restore


def test_the_inventory_names_the_directory_with_an_expression(ansible_playbook, tmp_path, root):
    """The inventory's smartshop_secrets_dir is an expression (environment, then HOME): the lookup
    templates it and never makes a directory named after the expression."""
    extra = tmp_path / "extra.yml"
    extra.write_text(f"smartshop_secrets_dir: \"{{{{ '{tmp_path}' ~ '/elsewhere' }}}}\"\n")
    code, output, read = run(
        ansible_playbook, tmp_path, "lookup('smartshop.stack.secret', 'x_password')", "-e", f"@{extra}"
    )
    assert code == 0, output
    assert (tmp_path / "elsewhere" / "h0" / "x_password").read_text().strip() == read["h0"]
    assert not (tmp_path / "secrets").exists()
    assert not list(root.glob("{*"))  # ansible-playbook runs in the repository
