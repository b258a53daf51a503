"""The on-call commands: ls, show, extract, top."""
import io
import json
import os
import subprocess
import tarfile
import time

from bundles import list_bundles
from lib import CRASHBOX, EXAMPLES, write_policy


def cb(*args, env=None):
    return subprocess.run([CRASHBOX] + list(args), capture_output=True, timeout=60, env=env)


def populate(tmp):
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    pol = write_policy(tmp, "[retention]\nrate_limit_burst = 2\n")
    for ex in ["nil-deref", "custom-panic", "custom-panic", "custom-panic"]:
        subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", os.path.join(EXAMPLES, ex)], capture_output=True)
    api = write_policy(tmp, "[service]\nname = api\n", "api.policy")
    subprocess.run([CRASHBOX, "-p", api, "-d", d, "--", "sh", "-c", "echo 'bye' >&2; exit 3"], capture_output=True)
    return d


def rows(d, *filters):
    r = cb("ls", "--json", *filters, d)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_ls_lists_filters_and_falls_back_to_manifests(tmp):
    d = populate(tmp)
    all_rows = rows(d)
    assert len(all_rows) == 4, "two custom-panic bundles, one rate-limited"
    assert {r["service"] for r in all_rows} == {"nil-deref", "custom-panic", "api"}
    assert [r["kind"] for r in rows(d, "--service", "api")] == ["exit"]
    assert len(rows(d, "--kind", "go-panic")) == 3
    fp = [r for r in all_rows if r["service"] == "nil-deref"][0]["fingerprint"]
    assert len(rows(d, "--fingerprint", fp[:6])) == 1
    assert len(rows(d, "--since", "1h")) == 4
    assert rows(d, "--until", "2000-01-01") == []
    # Without the index: the same rows, from the bundles' manifests.
    os.rename(os.path.join(d, ".crashbox-index"), os.path.join(tmp, "index.bak"))
    again = rows(d)
    key = lambda r: r["bundle"]
    assert [(r["kind"], r["message"], r["fingerprint"]) for r in sorted(again, key=key)] == \
           [(r["kind"], r["message"], r["fingerprint"]) for r in sorted(all_rows, key=key)]
    table = cb("ls", d).stdout.decode()
    assert table.splitlines()[0].startswith("TIME") and "\033[" not in table, "no colour into a pipe"


def test_ls_survives_corrupt_and_foreign_files(tmp):
    d = populate(tmp)
    with open(os.path.join(d, "evil-20260101T000000Z-h-1-go-panic.tar.zst"), "wb") as f:
        f.write(os.urandom(5000))
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(d, ".crashbox-index"), "a") as f:
        f.write("garbage line\nv1\tB\tnot-a-number\n")
    r = cb("ls", "--json", d)
    assert r.returncode == 0
    got = json.loads(r.stdout)
    evil = [x for x in got if "evil" in x["bundle"]]
    assert len(evil) == 1 and evil[0]["message"].startswith("(unreadable bundle")
    assert not any("notes.txt" in x["bundle"] for x in got)


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp):
    d = populate(tmp)
    tty = subprocess.run(["script", "-qec", f"{CRASHBOX} ls {d}", "/dev/null"], capture_output=True, timeout=30)
    assert b"\033[" in tty.stdout
    env = dict(os.environ, NO_COLOR="1")
    plain = subprocess.run(["script", "-qec", f"{CRASHBOX} ls {d}", "/dev/null"], capture_output=True,
                           timeout=30, env=env)
    assert b"\033[" not in plain.stdout


def test_show_summarises_a_bundle(tmp):
    d = populate(tmp)
    r = cb("show", "-d", d, "nil-deref")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "nil-deref crashed: go-panic" in out
    assert "main.handle" in out and "main.go:14" in out
    assert "exit code 2" in out and "memory     limit" in out and "top maps" in out
    full = list_bundles(d)[0]
    r = cb("show", "--json", os.path.join(d, full))
    assert json.loads(r.stdout)["schema"] == "crashbox.bundle/1"
    assert cb("show", "-d", d, "no-such-bundle").returncode == 1
    junk = os.path.join(tmp, "junk.tar.zst")
    with open(junk, "wb") as f:
        f.write(b"not zstd")
    assert cb("show", junk).returncode == 1


def test_extract_unpacks_and_refuses_escapes(tmp):
    d = populate(tmp)
    b = os.path.join(d, list_bundles(d)[0])
    out = os.path.join(tmp, "x")
    r = cb("extract", b, out)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(out, "manifest.json")) and os.path.isdir(os.path.join(out, "proc"))
    # A hostile archive: a member climbing out of the destination.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = b"pwned\n"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    evil = os.path.join(tmp, "evil.tar.zst")
    subprocess.run(["zstd", "-q", "-o", evil], input=raw.getvalue(), check=True)
    dest = os.path.join(tmp, "y", "z")
    os.makedirs(dest)
    r = cb("extract", evil, dest)
    assert r.returncode != 0
    assert not os.path.exists(os.path.join(tmp, "y", "escaped.txt"))


def test_top_groups_by_fingerprint_with_suppressed_counts(tmp):
    d = populate(tmp)
    r = cb("top", "--json", d)
    assert r.returncode == 0
    groups = json.loads(r.stdout)
    first = groups[0]
    assert first["count"] == 3 and first["bundles"] == 2 and first["suppressed"] == 1
    assert first["services"] == "custom-panic"
    assert sum(g["count"] for g in groups) == 5
