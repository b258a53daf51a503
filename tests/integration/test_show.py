"""`crashbox show` as an expert's first paragraph: one golden file per crash
kind (tests/golden/show/*.txt; the verdicts' verdict-*.txt come from
test_diagnosis's runs, see verdict_shape), from real bundles of real Go programs run
under crashbox here, with what changes from run to run (times, pids, hosts,
paths, addresses, sizes, the machine's memory watch) normalised.
UPDATE_GOLDEN=1 rewrites the files instead of comparing."""
import json
import os
import re
import subprocess
import unicodedata

from bundles import list_bundles, manifest_only_bundle, member
from lib import CRASHBOX, EXAMPLES, write_policy
from test_capture import crashbox_was_the_victim, memory_cgroup, oom_attempts, only_bundle, remove_cgroup

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "show")


def crash(tmp, name, argv, env=None, prefix="", policy=None):
    """Runs argv under crashbox, the Go settings only those given; returns the bundle's path."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    full = {k: v for k, v in os.environ.items() if k not in ("GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOMAXPROCS")}
    full.update(env or {})
    pol = f"-p {policy} " if policy else ""
    cmd = f"{prefix}exec {CRASHBOX} {pol}-d {d} -- " + " ".join(argv)
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, timeout=180, env=full)
    crash.log = r.stderr.decode(errors="replace")
    crash.returncode = r.returncode
    bundles = list_bundles(d)
    assert len(bundles) == 1, (name, bundles, crash.log)
    return os.path.join(d, bundles[0])


def show(bundle, *args):
    r = subprocess.run([CRASHBOX, "show", *args, bundle], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def width(line):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in line)


def fits(line):
    """80 columns, but a path to copy (a bundle's, the debug command's) is
    never cut: alone on its line, or the bundle's beside its label."""
    return width(line) <= 80 or len(line.split()) == 1 or line.startswith("  bundle ")


def normalise(text, extra=(), verdicts=True):
    """verdicts=False leaves the memory verdicts out: which ones an OOM kill
    gets, and their figures, depend on how fast memory climbed on this
    machine (test_diagnosis checks them)."""
    out = []
    in_maps = False
    for line in text.splitlines():
        label = line[2:13].strip() if line.startswith("  ") else None
        if label == "verdict":
            if verdicts:
                out += [line, " " * 13 + "<what the verdict rests on>"]
            in_maps = True
            continue
        if label == "top maps":
            out.append("  top maps   <the service's largest mappings>")
            in_maps = True
            continue
        if in_maps and label == "":
            continue  # the top maps' and the bundle path's own lines
        in_maps = False
        if label == "watched":
            line = "  watched    <how this machine watched memory>"
        if label == "bundle":
            out.append("  bundle     <bundle>")
            in_maps = True
            continue
        line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "<time>", line)
        line = re.sub(r" on \S+ \(pid \d+,", " on <host> (pid <pid>,", line)
        line = re.sub(r"0x[0-9a-f]+", "0x?", line)
        line = re.sub(r"held \d+ ms", "held <n> ms", line)
        line = re.sub(r"\b\d+(\.\d+)?(B|KiB|MiB|GiB|TiB)\b", "<size>", line)
        line = re.sub(r"cgroup v\d", "cgroup v?", line)
        line = re.sub(r"\bgoroutine \d+", "goroutine N", line)  # ids depend on the runtime's own goroutines
        line = re.sub(r"^(  goroutine\s+)\d+", r"\1N", line)
        line = re.sub(r"\bgo1\.\d+(\.\d+)?", "go1.x", line)
        # The examples' VCS revision: stamped where they are built in a git
        # checkout (not in a worktree), on the go line or a line of its own.
        line = re.sub(r"\s*\b[0-9a-f]{40}\b( \(modified\))?", "", line)
        if not line.strip():
            continue
        for pat, rep in extra:
            line = re.sub(pat, rep, line)
        out.append(line)
    return "\n".join(out) + "\n"


def verdict_shape(text, keep, figures):
    """The verdicts' block of show's text with only the verdicts in keep
    (the others a run may or may not get): each ID, its text joined from
    its wrapped lines with every number a placeholder (how far memory
    climbed varies, and so does where a line wraps), and the names of the
    figures it rests on, from the manifest."""
    out, cur = [], None
    for line in text.splitlines()[1:]:
        label = line[2:13].strip()
        if label == "verdict":
            cur = line[13:].strip()
            if cur in keep:
                out += [line, " " * 13]
        elif label == "" and cur:
            if cur in keep:
                out[-1] += " " + line.strip()
        else:
            break
    out = [re.sub(r"\d[\d,.]*", "<n>", l).rstrip() for l in out]
    for i, line in enumerate(out):
        if line.startswith("  verdict"):
            out[i + 1] = out[i + 1].replace(" " * 13 + " ", " " * 13, 1)
            # Allocation sites past the first come and go with what the
            # runtime itself allocated at that moment: one site names the shape.
            names = [f for f in figures[line[13:].strip()] if not re.match(r"site([2-9]|\d\d)_", f)]
            out.insert(i + 2, " " * 13 + "figures: " + ", ".join(sorted(names)))
    return out


def check(name, bundle, extra=(), verdicts=True, keep=None):
    """keep: the verdicts whose shape the golden holds (see verdict_shape);
    their figures vary, and so does the rest of an OOM kill's text."""
    text = show(bundle)
    for line in text.splitlines():
        assert fits(line), f"{name}: {width(line)} columns: {line!r}"
    if keep:
        figures = {v["verdict"]: v["figures"] for v in manifest_of(bundle)["diagnosis"]}
        got = "\n".join(text.splitlines()[:1] + verdict_shape(text, keep, figures)) + "\n"
    else:
        got = normalise(text, extra, verdicts)
    path = os.path.join(GOLDEN, name + ".txt")
    if os.environ.get("UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(got)
    with open(path) as f:
        want = f.read()
    assert got == want, f"show {name} differs from {path}:\n{got}"
    return text


def manifest_of(bundle):
    return json.loads(show(bundle, "--json"))


def test_show_panic_single_traceback(tmp):
    """GOTRACEBACK=single: one goroutine, and show says the others are not shown."""
    b = crash(tmp, "nil", [f"{EXAMPLES}/nil-deref"])
    text = check("go-panic", b)
    assert "1 goroutines in all" not in text and "no others shown (GOTRACEBACK=single" in text
    b = crash(tmp, "nil-all", [f"{EXAMPLES}/panic-in-goroutine"], env={"GOTRACEBACK": "all"})
    text = check("go-panic-in-goroutine", b)
    assert "created by" in text


def test_show_groups_a_thousand_goroutines_at_one_site(tmp):
    b = crash(tmp, "pileup", [f"{EXAMPLES}/goroutine-pileup"], env={"GOTRACEBACK": "all", "PILEUP_N": "1000"})
    m = manifest_of(b)["crash"]
    g = m["goroutine_groups"]
    assert m["goroutines"] == 1001 and m["goroutines_grouped"] == 1001
    assert g[0]["count"] == 1000 and g[0]["state"] == "chan receive", g[0]
    assert g[0]["functions"] == ["main.(*request).awaitBackend", "main.handle"], g[0]
    assert (g[0]["file"], g[0]["line"], g[0]["created_by"]) == ("main.go", 18, "main.main"), g[0]
    assert g[1]["count"] == 1 and g[1]["functions"] == ["main.main"]
    text = check("go-panic-goroutine-groups", b)
    assert "1,000 × [chan receive] main.(*request).awaitBackend main.go:18," in text
    assert "1,001 goroutines in all" in text


def test_show_fatal_error(tmp):
    check("go-fatal", crash(tmp, "deadlock", [f"{EXAMPLES}/deadlock"]))


def test_show_first_of_four_races_with_both_stacks(tmp):
    b = crash(tmp, "race", [f"{EXAMPLES}/data-race-four"])
    m = manifest_of(b)["crash"]
    race = m["race"]
    assert race["count"] == 4
    assert race["access"]["what"].startswith("Read at") and race["access"]["main_goroutine"]
    assert race["access"]["frames"][0]["function"] == "main.main" and race["access"]["frames"][0]["line"] == 27
    prev = race["previous"]
    assert prev["what"].startswith("Previous write at") and prev["frames"][0]["function"] == "main.writer"
    assert prev["created_at"][0]["function"] == "main.main" and prev["created_at"][0]["line"] == 23
    assert m["culprit"]["line"] == 27, "the first race is the crash's, not the last"
    text = check("race", b)
    assert "the first of 4 races reported" in text and "0 goroutines in all" not in text
    assert "[?]" not in text and "created by main.main  main.go:23" in text


def test_show_signal_and_exit(tmp):
    check("signal", crash(tmp, "sig", ["sh", "-c", "'kill -SEGV $$'"]))
    check("exit", crash(tmp, "exit", [f"{EXAMPLES}/exit-3"]))


def test_show_names_panics_recovered_before_the_crash(tmp):
    b = crash(tmp, "rec", [f"{EXAMPLES}/recovered-http"])
    rp = manifest_of(b)["crash"]["recovered_panics"]
    assert rp["count"] == 3, rp
    assert rp["names"] == [{"text": "assignment to entry in nil map", "count": 2},
                           {"text": "report backend down", "count": 1}], rp
    text = check("go-panic-recovered", b)
    assert "3 panics recovered" in text
    b = crash(tmp, "repanic", [f"{EXAMPLES}/recovered-repanic"])
    rp = manifest_of(b)["crash"]["recovered_panics"]
    assert rp["count"] == 1 and rp["names"][0]["text"].startswith("runtime error: index out of range"), rp


# How long before the kill a snapshot was taken varies, and so do how many
# files it holds and where the leaking main goroutine stood at the dump.
OOM_VOLATILE = [(r"\d+ ms before", "<n> ms before"), (r"\d+ files under", "<n> files under"),
                (r"× (\[\w+\] )?(time\.Sleep time\.go|main\.main main\.go):\d+", "× <main's frame>")]


def oom_crash(tmp, name, argv, policy):
    """crash() in a 96 MiB memory cgroup until the OOM killer ends it."""
    def once(run_dir):
        cg = memory_cgroup(run_dir, 96 << 20)
        try:
            return crash(run_dir, name, argv, policy=policy, prefix=f"echo $$ > {cg}/cgroup.procs && ")
        except AssertionError:
            if crashbox_was_the_victim(crash.returncode):
                return None
            raise
        finally:
            remove_cgroup(cg)
    return oom_attempts(tmp, once)


def test_show_oom_kill(tmp):
    # One watermark, low enough to be seen on the way up however fast.
    pol = write_policy(tmp, "[memory]\nwatermarks = 50\n")
    b = oom_crash(tmp, "oom", [f"{EXAMPLES}/unbounded-alloc", "1ms"], pol)
    assert manifest_of(b)["crash"]["kind"] == "oom-kill"
    check("oom-kill", b, extra=OOM_VOLATILE, verdicts=False)


def test_show_oom_kill_groups_the_pre_oom_goroutine_dump(tmp):
    """A goroutine leak until OOM: the shim's goroutine dump at a watermark,
    grouped. The 50% watermark only: a full dump at 80% under memory pressure
    takes longer than the snapshot's budget (issue 12: the shim's dump near
    the limit costs headroom)."""
    pol = write_policy(tmp, "[capture]\ngo_shim = yes\n[memory]\nwatermarks = 50\n")
    b = oom_crash(tmp, "leak", [f"{EXAMPLES}/goroutine-leak", "2000"], pol)
    m = manifest_of(b)
    assert m["crash"]["kind"] == "oom-kill", m["crash"]
    src = m["crash"]["goroutine_groups_source"]
    assert src == "pre-oom/50/go/goroutines.txt", (src, m["snapshot"]["items"], crash.log)
    g = m["crash"]["goroutine_groups"][0]
    assert g["count"] == 2000 and g["functions"][:2] == ["main.(*call).awaitReply", "main.serve"], g
    # A full dump (pprof debug=2) says the state and the creator; the
    # aggregated profile (debug=1) says neither.
    profile = member(b, src).startswith(b"goroutine profile: total ")
    if profile:
        assert g["state"] is None and g["created_by"] is None, g
    else:
        assert g["state"] == "chan receive" and g["created_by"] == "main.main", g
    name = "oom-kill-goroutine-profile" if profile else "oom-kill-goroutine-leak"
    text = check(name, b, extra=OOM_VOLATILE, verdicts=False)
    assert "2,000 × " + ("" if profile else "[chan receive] ") + "main.(*call).awaitReply main.go:23" in text


def test_show_puts_the_verdicts_first(tmp):
    """The manifest's diagnosis (issue 12, section 1) comes before everything
    else; here written into a real bundle's manifest until the rules that
    make it land."""
    b = crash(tmp, "pileup", [f"{EXAMPLES}/goroutine-pileup"], env={"GOTRACEBACK": "all", "PILEUP_N": "50"})
    m = manifest_of(b)
    m["diagnosis"] = [{"verdict": "goroutine-leak", "figures": {"goroutines": 51},
                       "text": "50 goroutines wait in chan receive at main.(*request).awaitBackend main.go:18, "
                               "created by main.main; their stacks outgrow the heap"}]
    out = manifest_only_bundle(m, os.path.join(tmp, "crafted-20260101T000000Z-h-1-go-panic.tar.zst"))
    lines = show(out).splitlines()
    assert lines[1] == "  verdict    goroutine-leak", lines
    assert lines[2].startswith("             50 goroutines wait in chan receive"), lines
    assert all(fits(l) for l in lines), lines
    assert lines[4].startswith("  what "), lines
