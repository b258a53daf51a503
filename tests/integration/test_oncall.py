"""The on-call commands: ls, show, extract, top."""
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
import unicodedata

from bundles import list_bundles, manifest
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
    assert "exit     code 2" in out and "memory   limit" in out and "top maps by RSS" in out
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


ANSI = re.compile(r"\033\[[0-9;]*m")


def cells(line):
    """A line as terminal cells: a wide character takes two."""
    out = []
    for ch in line:
        out.append(ch)
        if unicodedata.east_asian_width(ch) in "WF":
            out.append("")
    return out


def check_table(text, width):
    lines = [ANSI.sub("", l) for l in text.replace("\r", "").splitlines() if l]
    assert len(lines) > 1, text
    head = lines[0]
    # Headers are ASCII. A left-aligned column starts where its header does,
    # after two blanks; a number ends where its header does.
    cols = [(m.start(), m.end(), m.group() in ("COUNT", "SUPPRESSED", "SIZE"))
            for m in re.finditer(r"\S+", head)]
    for l in lines:
        c = cells(l)
        assert len(c) <= width, (width, len(c), l)
        assert l == l.rstrip(), f"trailing blanks: {l!r}"
        for start, end, right in cols:
            if right:
                assert c[end - 1] not in ("", " ") and (end == len(c) or c[end] == " "), \
                    f"number column ending at {end} shifted: {l!r}"
            elif start and start < len(c):
                assert "".join(c[start - 2:start]) == "  " and c[start] not in ("", " "), \
                    f"column at {start} shifted: {l!r}"
    return lines


def crowded(tmp):
    """Bundles whose text would push a byte-counted table out of line: a
    long service name, a message full of multi-byte and wide characters,
    a long kind, two services whose names contain each other."""
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    long_name = "payments-reconciliation-worker-eu-west-1"
    nil_deref = os.path.join(EXAMPLES, "nil-deref")
    for name, cmd in [(long_name, ["sh", "-c", "echo 'échec … de connexion à la base 数据库连接失败 after 3 tries' >&2; exit 3"]),
                      ("api", ["sh", "-c", "kill -SEGV $$"]), ("api2", [nil_deref]), ("api", [nil_deref])]:
        pol = write_policy(tmp, f"[service]\nname = {name}\n", f"{name}.policy")
        subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--"] + cmd, capture_output=True, timeout=60)
    # A long kind: a copy of a bundle renamed as a recovered one (no index
    # entry: its row comes from the name and the manifest).
    src = [b for b in list_bundles(d) if b.startswith("api-") and b.endswith("-signal.tar.zst")][0]
    dst = src.replace("-signal.tar.zst", "-supervisor-killed.tar.zst").replace("api-", "api3-", 1)
    shutil.copy(os.path.join(d, src), os.path.join(d, dst))
    return d, long_name


def test_ls_and_top_align_by_display_width_and_fit_80_columns_in_a_pipe(tmp):
    d, long_name = crowded(tmp)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    ls = cb("ls", d, env=env)
    lines = check_table(ls.stdout.decode(), 80)
    assert any("supervisor-killed" in l for l in lines)
    svc = [l for l in lines if l.startswith("20") and "payments" in l][0]
    assert long_name not in svc and "payments-" in svc and "…" in svc, "a cut name ends in …"
    top = cb("top", d, env=env)
    lines = check_table(top.stdout.decode(), 80)
    assert any("…" in l for l in lines)
    groups = json.loads(cb("top", "--json", d).stdout)
    # The same Go crash in two services whose names contain one another:
    # both are named, with their counts.
    go = [g for g in groups if g["kind"] == "go-panic"]
    assert len(go) == 1 and go[0]["services"] == "api,api2" and go[0]["by_service"] == {"api": 1, "api2": 1}, go
    # COLUMNS is obeyed, and nothing is cut when there is room.
    wide = cb("ls", d, env=dict(env, COLUMNS="200")).stdout.decode()
    check_table(wide, 200)
    assert long_name in wide and "CULPRIT" in wide and "FP" in wide
    narrow = cb("top", d, env=dict(env, COLUMNS="50")).stdout.decode()
    check_table(narrow, 50)


def test_ls_fits_the_terminal_it_writes_to(tmp):
    d, long_name = crowded(tmp)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for width in (100, 132):
        r = subprocess.run(["script", "-qec", f"stty cols {width} rows 50; {CRASHBOX} ls {d}", "/dev/null"],
                           capture_output=True, timeout=30, env=env)
        text = r.stdout.decode()
        lines = check_table(text[text.index("TIME"):], width)
        assert max(len(cells(ANSI.sub("", l))) for l in lines) > 80, f"uses the {width} columns it has"


def repacked(tmp, d, change):
    """A copy of a real bundle with its manifest changed by change(m)."""
    src = os.path.join(d, [b for b in list_bundles(d) if b.startswith("api-") and b.endswith("-signal.tar.zst")][0])
    m = manifest(src)
    change(m)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = json.dumps(m).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    out = os.path.join(tmp, "crafted-20260101T000000Z-h-1-exit.tar.zst")
    subprocess.run(["zstd", "-qf", "-o", out], input=raw.getvalue(), check=True)
    return out


def test_show_says_what_it_knows_in_plain_words(tmp):
    d, _ = crowded(tmp)
    # A service crashbox never saw end: no code, no signal.
    b = repacked(tmp, d, lambda m: m.update(exit={"code": None, "signal": None}))
    out = cb("show", b).stdout.decode()
    assert "killed by ?" not in out and "exit     not seen by crashbox" in out, out
    # Pre-OOM snapshots are counted as snapshots (one per watermark), not files.
    def preoom(m):
        m["snapshot"]["items"] += ["pre-oom/80/proc/status", "pre-oom/80/proc/smaps", "pre-oom/80/cgroup/memory.stat",
                                   "pre-oom/90/proc/status", "pre-oom/90/proc/smaps"]
    out = cb("show", repacked(tmp, d, preoom)).stdout.decode()
    assert "pre-OOM  2 snapshots (80%, 90%; 5 files under pre-oom/)" in out, out
    # A Go build without VCS information: no trailing blank; sizes for people.
    out = cb("show", "-d", d, "api2").stdout.decode()
    assert "  go       go1." in out
    assert all(l == l.rstrip() for l in out.splitlines()), [l for l in out.splitlines() if l != l.rstrip()]
    maps = out[out.index("top maps by RSS"):].splitlines()[1:3]
    assert maps and all(re.match(r"^\s+[0-9.]+(B|KiB|MiB|GiB)  ", l) for l in maps), maps
