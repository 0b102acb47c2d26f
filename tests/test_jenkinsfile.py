"""The Jenkinsfile parses (Debian's groovy) and calls only make targets that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JENKINSFILE = ROOT / "Jenkinsfile"
PARSE = (
    "def cu = new org.codehaus.groovy.control.CompilationUnit();"
    " cu.addSource('Jenkinsfile', new File(args[0]).text);"
    " cu.compile(org.codehaus.groovy.control.Phases.CONVERSION); println 'syntax ok'"
)


def groovy(path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("groovy")
    assert binary, "groovy is missing: `make groovy` installs Debian's"
    env = dict(os.environ)
    if not Path("/usr/lib/jvm/default-java").exists() and "JAVA_HOME" not in env:
        jvms = sorted(Path("/usr/lib/jvm").glob("java-*-openjdk-*"))
        if jvms:
            env["JAVA_HOME"] = str(jvms[-1])
    return subprocess.run([binary, "-e", PARSE, str(path)], capture_output=True, text=True, env=env, timeout=120)


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))


def test_jenkinsfile_syntax():
    result = groovy(JENKINSFILE)
    assert result.returncode == 0 and "syntax ok" in result.stdout, result.stdout + result.stderr


def test_the_syntax_check_catches_errors(tmp_path):
    broken = tmp_path / "Jenkinsfile"
    broken.write_text(JENKINSFILE.read_text().rsplit("}", 1)[0])  # drop the last brace
    result = groovy(broken)
    assert result.returncode != 0 or "syntax ok" not in result.stdout


def test_every_make_target_it_calls_exists():
    calls = re.findall(r"sh '(make [^']+)'", JENKINSFILE.read_text())
    assert calls
    targets = make_targets()
    for call in calls:
        for word in call.split()[1:]:
            if "=" not in word:
                assert word in targets, f"Jenkinsfile calls `{call}` but the Makefile has no target {word}"


def test_stages_mirror_the_seed_pipeline():
    stages = re.findall(r"stage\('([^']+)'\)", JENKINSFILE.read_text())
    for expected in ("Setup", "Lint", "Unit", "Molecule", "Deploy", "Verify", "Simulate smoke"):
        assert expected in stages


def test_every_molecule_scenario_has_a_stage():
    """Each role's scenario runs in the parallel Molecule stage, each cross-role one after it."""
    text = JENKINSFILE.read_text()
    roles = {p.parent.parent.parent.name for p in ROOT.glob("roles/*/molecule/default/molecule.yml")}
    scenarios = {p.parent.name for p in ROOT.glob("molecule/*/molecule.yml")}
    assert roles and scenarios
    assert set(re.findall(r"make test-role ROLE=(\w+)", text)) == roles
    assert set(re.findall(r"make test-scenario SCENARIO=([\w-]+)", text)) == scenarios
