"""The fact cache of ansible.cfg (smartshop.stack.facts): what a host shared is there in the next
run, in the files ansible.builtin.jsonfile reads and writes, and a cleared host's facts are gone."""

import json
import re
import textwrap

PLAYBOOK = textwrap.dedent(
    """\
    - hosts: localhost
      gather_facts: false
      tasks:
        - name: Show what the last run shared
          ansible.builtin.debug:
            msg: "shared: {{ shared_value | default('nothing') }}"
        - name: Forget it
          ansible.builtin.meta: clear_facts
          when: forget | default(false) | bool
        - name: Share a value
          ansible.builtin.set_fact:
            cacheable: true
            shared_value: "{{ value }}"
          when: value is defined
    """
)


def test_shared_facts_outlive_the_run_in_jsonfile_files(playbook_runner, tmp_path):
    playbook = tmp_path / "share.yml"
    playbook.write_text(PLAYBOOK)

    def run(*extra: str, plugin: str | None = None) -> str:
        env = {"ANSIBLE_CACHE_PLUGIN": plugin} if plugin else None
        code, output = playbook_runner(tmp_path, "-i", "localhost,", "-c", "local", str(playbook), *extra, env=env)
        assert code == 0, output[-2000:]
        assert "cache" not in " ".join(re.findall(r"\[WARNING\].*", output)).lower(), output[-2000:]
        match = re.search(r'"msg": "shared: ([^"]*)"', output)
        assert match, output[-2000:]
        return match.group(1)

    assert run("-e", "value=first") == "nothing"
    files = list((tmp_path / ".smartshop" / "facts").iterdir())
    assert [f.name for f in files] == ["s1_localhost"], files
    assert "__payload__" in json.loads(files[0].read_text())  # what ansible.builtin.jsonfile writes

    assert run("-e", "value=second") == "first"
    # ansible.builtin.jsonfile reads what the plugin wrote, and the plugin what jsonfile wrote
    assert run("-e", "value=third", plugin="ansible.builtin.jsonfile") == "second"
    assert run("-e", "forget=true") == "third"
    assert run() == "nothing"


def test_a_cache_file_that_is_not_json_reads_as_no_facts_and_the_run_goes_on(playbook_runner, tmp_path):
    """ansible.builtin.jsonfile removes such a file and fails the run ("re-run your command now")."""
    playbook = tmp_path / "share.yml"
    playbook.write_text(PLAYBOOK)
    facts = tmp_path / ".smartshop" / "facts"
    facts.mkdir(parents=True)
    (facts / "s1_localhost").write_text('{"__payload__": "cut sh')
    code, output = playbook_runner(tmp_path, "-i", "localhost,", "-c", "local", str(playbook), "-e", "value=anew")
    assert code == 0, output[-2000:]
    assert '"msg": "shared: nothing"' in output
    assert "The fact cache's file for localhost is removed (see the warning above): this run goes on" in output
    assert json.loads((facts / "s1_localhost").read_text())  # written again by this run
    code, output = playbook_runner(tmp_path, "-i", "localhost,", "-c", "local", str(playbook))
    assert code == 0 and '"msg": "shared: anew"' in output, output[-2000:]
