"""The README's two commands on a machine that may lack dependencies: each
installs what is missing (the script CI runs) before it builds anything."""
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_demo_and_test_install_dependencies_before_building(tmp):
    for target in ("demo", "test"):
        # -n: the commands in order (the recursive make still lists its own).
        r = subprocess.run(["make", "-n", target, f"BUILD={tmp}/build-{target}"], cwd=ROOT, capture_output=True,
                           timeout=120, env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")})
        assert r.returncode == 0, r.stderr
        lines = r.stdout.decode().splitlines()
        deps = next(i for i, l in enumerate(lines) if l.strip() == "bash .ci/install-deps")
        first_build = next(i for i, l in enumerate(lines) if l.startswith(("cc ", "clang ")))
        assert deps < first_build, (target, lines[:8])
        assert any("install-deps" in l and l.startswith("echo") for l in lines[:deps]), "it says so as it does"


def test_install_deps_says_one_line_when_nothing_is_missing(tmp):
    r = subprocess.run([os.path.join(ROOT, ".ci", "install-deps")], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().splitlines()
    if out and out[0].startswith("install-deps: installing"):
        # It had something to install (a fresh machine): the second run is quiet.
        r = subprocess.run([os.path.join(ROOT, ".ci", "install-deps")], capture_output=True, timeout=300)
        out = r.stdout.decode().splitlines()
    assert len(out) == 1 and "installed" in out[0] and r.stderr == b"", (out, r.stderr)
