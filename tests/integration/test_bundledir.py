"""The bundle directory as a shared, hostile place: planted files, leftovers,
many writers, retention, rate limits, size caps and full disks."""
import fcntl
import json
import os
import stat
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bundles import list_bundles, manifest, member
from lib import CRASHBOX, EXAMPLES, HELPER, Skip, need_root, write_policy


def crash(d, *cmd, policy=None, timeout=60, env=None):
    args = [CRASHBOX, "-d", d] + (["-p", policy] if policy else []) + ["--"] + list(cmd)
    return subprocess.run(args, capture_output=True, timeout=timeout, env=env)


def index(d):
    path = os.path.join(d, ".crashbox-index")
    if not os.path.exists(path):
        return []
    out = []
    for line in open(path, encoding="utf-8", errors="replace"):
        f = line.rstrip("\n").split("\t")
        out.append({"type": f[1], "time": int(f[2]), "service": f[3], "kind": f[4],
                    "fingerprint": f[5], "name": f[7]})
    return out


def test_planted_symlinks_and_fifos_are_never_followed(tmp):
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    os.symlink(victim, os.path.join(d, ".crashbox.lock"))
    os.mkfifo(os.path.join(d, ".crashbox-index"))
    t0 = time.monotonic()
    r = crash(d, os.path.join(EXAMPLES, "nil-deref"), timeout=30)
    assert time.monotonic() - t0 < 20, "a FIFO must not block"
    assert r.returncode == 2
    assert open(victim).read() == "precious\n"
    assert os.path.islink(os.path.join(d, ".crashbox.lock")), "not replaced either"
    assert len(list_bundles(d)) == 1, "the bundle is still written"
    assert stat.S_ISFIFO(os.stat(os.path.join(d, ".crashbox-index")).st_mode)


def test_leftovers_of_dead_writers_are_cleaned_and_only_those(tmp):
    d = os.path.join(tmp, "shared")
    run = os.path.join(d, ".crashbox-run")  # where writers keep their temporary files
    os.makedirs(run)
    dead = os.path.join(run, ".crashbox-tmp-4242-api-20260101T000000Z-h-1-go-panic.tar.zst")
    with open(dead, "wb") as f:
        f.write(b"half a bundle")
    live = os.path.join(run, ".crashbox-tmp-4343-api-20260101T000001Z-h-2-go-panic.tar.zst")
    holder = open(live, "wb")
    fcntl.flock(holder, fcntl.LOCK_EX)  # a writer still at work
    fifo = os.path.join(run, ".crashbox-tmp-fifo")
    os.mkfifo(fifo)
    foreign = os.path.join(d, "notes.txt")
    with open(foreign, "w") as f:
        f.write("not ours\n")
    try:
        r = crash(d, "sh", "-c", "exit 0")
        assert r.returncode == 0
        assert not os.path.exists(dead), "a dead writer's temporary file is removed at start"
        assert os.path.exists(live), "a live writer's is kept"
        assert os.path.exists(fifo) and os.path.exists(foreign)
        assert b"removed 1 temporary file" in r.stderr
    finally:
        holder.close()


def test_twenty_concurrent_crashing_services_lose_no_bundle(tmp):
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    pol = write_policy(tmp, "[retention]\nrate_limit_burst = 1000\n")

    def one(i):
        p2 = write_policy(tmp, f"[service]\nname = svc{i}\n[retention]\nrate_limit_burst = 1000\n", f"p{i}.policy")
        return crash(d, os.path.join(EXAMPLES, "custom-panic"), policy=p2).returncode

    with ThreadPoolExecutor(max_workers=20) as ex:
        codes = list(ex.map(one, range(20)))
    assert codes == [2] * 20
    bundles = list_bundles(d)
    assert len(bundles) == 20, bundles
    assert sorted(b.split("-")[0] for b in bundles) == sorted(f"svc{i}" for i in range(20))
    idx = index(d)
    assert sorted(e["name"] for e in idx if e["type"] == "B") == bundles
    assert [f for f in os.listdir(d) if f.startswith(".crashbox-tmp")] == []
    for b in bundles:
        manifest(os.path.join(d, b))  # every one reads back
    assert os.path.exists(pol)


def test_two_hundred_crashes_leave_a_bounded_directory_and_an_exact_count(tmp):
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    pol = write_policy(tmp, "[retention]\nrate_limit_burst = 3\nrate_limit_window = 1h\n")
    cmd = ["sh", "-c", "echo 'db: connection refused' >&2; exit 3"]
    with ThreadPoolExecutor(max_workers=8) as ex:
        codes = list(ex.map(lambda i: crash(d, *cmd, policy=pol).returncode, range(200)))
    assert codes == [3] * 200
    assert len(list_bundles(d)) == 3, list_bundles(d)
    idx = index(d)
    fp = {e["fingerprint"] for e in idx}
    assert len(fp) == 1, "one kind of crash, one fingerprint"
    assert sum(e["type"] == "S" for e in idx) == 197
    assert sum(e["type"] == "B" for e in idx) == 3
    # Once the window has passed (a 1 s window here, on the same index), the
    # next full bundle says how many were suppressed since the last one.
    time.sleep(1.2)
    short = write_policy(tmp, "[retention]\nrate_limit_burst = 3\nrate_limit_window = 1s\n", "short.policy")
    crash(d, *cmd, policy=short)
    newest = sorted(list_bundles(d), key=lambda b: os.stat(os.path.join(d, b)).st_mtime)[-1]
    m = manifest(os.path.join(d, newest))
    assert m["rate_limit"]["suppressed_since_last"] == 197, m["rate_limit"]


def test_retention_keeps_the_newest_per_service(tmp):
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    with open(os.path.join(d, "zz-20200101T000000Z-x-1-go-panic.txt"), "w") as f:
        f.write("foreign, old, named almost like ours\n")
    os.mkdir(os.path.join(d, "old-20200101T000000Z-h-1-exit.tar.zst"))  # a directory named like one
    pol = write_policy(tmp, "[retention]\nmax_bundles = 4\nrate_limit_burst = 100\n")
    for i in range(9):
        r = crash(d, "sh", "-c", f"echo run {i} >&2; exit 7", policy=pol)
        assert r.returncode == 7
        time.sleep(0.02)
    bundles = [b for b in list_bundles(d) if os.path.isfile(os.path.join(d, b))]
    assert len(bundles) == 4, bundles
    kept = sorted(member(os.path.join(d, b), "stderr.log").decode().strip() for b in bundles)
    assert kept == ["run 5", "run 6", "run 7", "run 8"]
    assert os.path.exists(os.path.join(d, "zz-20200101T000000Z-x-1-go-panic.txt"))
    assert os.path.isdir(os.path.join(d, "old-20200101T000000Z-h-1-exit.tar.zst"))
    live = {e["name"] for e in index(d) if e["type"] == "B"}
    assert live == set(bundles), "the index forgets deleted bundles"


def test_size_cap_truncates_the_largest_member_and_says_so(tmp):
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    big = os.path.join(tmp, "big.txt")
    with open(big, "w") as f:
        for i in range(40000):
            f.write(f"log line {i:06d} with some padding to make it long enough\n")
        f.write("THE LAST LINE\n")
    pol = write_policy(tmp, "[bundle]\nmax_size = 128KiB\n")
    r = crash(d, "sh", "-c", f"cat {big} >&2; exit 1", policy=pol)
    assert r.returncode == 1
    b = os.path.join(d, list_bundles(d)[0])
    m = manifest(b)
    assert "stderr.log" in [t["item"] for t in m["snapshot"]["truncated"]]
    tail = member(b, "stderr.log")
    assert len(tail) < 128 * 1024
    assert tail.endswith(b"THE LAST LINE\n"), "a cut stderr keeps its end"


def test_full_disk_loses_no_service_and_uses_the_fallback(tmp):
    need_root("mounting a tiny tmpfs")
    small = os.path.join(tmp, "small")
    os.makedirs(small)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small], capture_output=True)
    if r.returncode:
        raise Skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        fallback = os.path.join(tmp, "fallback")
        noise = os.path.join(tmp, "noise.bin")
        with open(noise, "wb") as f:
            f.write(os.urandom(1 << 20))  # incompressible: the bundle cannot fit in 64k
        pol = write_policy(tmp, f"[bundle]\nfallback_directory = {fallback}\n")
        r = crash(small, "sh", "-c", f"cat {noise} >&2; exit 9", policy=pol)
        assert r.returncode == 9
        err = r.stderr.decode(errors="replace")
        assert "No space left on device" in err
        assert err.count("cannot write crash bundle") == 1
        assert [f for f in os.listdir(small) if not f.startswith(".crashbox")] == [], "no partial bundle"
        assert [f for f in os.listdir(small) if f.startswith(".crashbox-tmp")] == []
        assert len(list_bundles(fallback)) == 1
        summary = [json.loads(l) for l in err.splitlines() if l.startswith('{"crashbox":')][0]
        assert summary["bundle"].startswith(fallback)
    finally:
        subprocess.run(["umount", small])


def test_missing_bundle_directory_is_reported_and_the_service_unharmed(tmp):
    d = os.path.join(tmp, "no", "such", "dir")
    r = crash(d, "sh", "-c", "echo hi; exit 4")
    assert r.returncode == 4
    assert r.stdout == b"hi\n"
    assert b"No such file or directory" in r.stderr
    assert b'"bundle":null' in r.stderr


def test_mode_and_group_come_from_the_policy(tmp):
    need_root("giving a bundle a group crashbox is not in")
    d = os.path.join(tmp, "b")
    pol = write_policy(tmp, "[bundle]\nmode = 0604\ngroup = 4242\n")
    r = crash(d, "sh", "-c", "exit 5", policy=pol)
    assert r.returncode == 5
    st = os.stat(os.path.join(d, list_bundles(d)[0]))
    assert stat.S_IMODE(st.st_mode) == 0o604 and st.st_gid == 4242


def test_bundles_past_max_age_are_deleted_but_never_the_newest(tmp):
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    old = os.path.join(d, "ancient-20200101T000000Z-h-1-exit.tar.zst")
    with open(old, "wb") as f:
        f.write(b"old bundle")
    pol = write_policy(tmp, "[retention]\nmax_age = 30d\n")
    crash(d, "sh", "-c", "exit 6", policy=pol)
    assert not os.path.exists(old), "older than max_age"
    assert len(list_bundles(d)) == 1


def test_one_services_crashes_never_cost_another_its_bundle(tmp):
    """The rate limit is per service and fingerprint: six services killed by
    a signal within the window each get their first bundle, and a crash
    without a Go report says which service, program and signal it was."""
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    for i in range(6):
        pol = write_policy(tmp, f"[service]\nname = svc{i}\n", f"p{i}.policy")
        r = crash(d, HELPER, "spew", "/dev/null", "kill", policy=pol)
        assert r.returncode == 128 + 9, r.stderr
        assert b'"rate_limited"' not in r.stderr, r.stderr
    bundles = list_bundles(d)
    assert sorted(b.split("-")[0] for b in bundles) == [f"svc{i}" for i in range(6)], bundles
    fps = {e["service"]: e["fingerprint"] for e in index(d)}
    assert len(set(fps.values())) == 6, "one fingerprint per service"
    # The same service's crashes are still limited: five full bundles
    # (the default burst), the sixth identical one only counted.
    pol = write_policy(tmp, "[service]\nname = svc0\n", "p0.policy")
    for n in range(5):
        r = crash(d, HELPER, "spew", "/dev/null", "kill", policy=pol)
        assert (b'"rate_limited":true' in r.stderr) == (n == 4), (n, r.stderr)
    svc0 = [e for e in index(d) if e["service"] == "svc0"]
    assert [e["type"] for e in svc0] == ["B"] * 5 + ["S"]
    assert {e["fingerprint"] for e in svc0} == {fps["svc0"]}
    # Another signal or another program in the same service is another crash.
    r = crash(d, "sh", "-c", "kill -SEGV $$", policy=pol)
    assert b'"rate_limited"' not in r.stderr
    r = crash(d, "sh", "-c", "kill -KILL $$", policy=pol)
    assert b'"rate_limited"' not in r.stderr
    assert len({e["fingerprint"] for e in index(d) if e["service"] == "svc0"}) == 3


def test_six_services_oom_killed_each_get_their_first_bundle(tmp):
    from test_capture import memory_cgroup, remove_cgroup
    cg = memory_cgroup(tmp, 64 << 20)
    d = os.path.join(tmp, "shared")
    os.makedirs(d)
    try:
        for i in range(6):
            pol = write_policy(tmp, f"[service]\nname = svc{i}\n", f"p{i}.policy")
            script = f"echo $$ > {cg}/cgroup.procs && exec {CRASHBOX} -p {pol} -d {d} -- {HELPER} hog"
            r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=120)
            assert r.returncode == 128 + 9, (r.returncode, r.stderr[-1000:])
            assert b'"kind":"oom-kill"' in r.stderr and b'"rate_limited"' not in r.stderr, r.stderr[-1000:]
            assert b"at the memory limit of 64MiB" in r.stderr, "a size for people, not a byte count"
    finally:
        remove_cgroup(cg)
    bundles = list_bundles(d)
    assert sorted(b.split("-")[0] for b in bundles) == [f"svc{i}" for i in range(6)], bundles
    assert all(b.endswith("-oom-kill.tar.zst") for b in bundles)
    assert len({e["fingerprint"] for e in index(d)}) == 6
    top = json.loads(subprocess.run([CRASHBOX, "top", "--json", d], capture_output=True).stdout)
    assert sorted(g["services"] for g in top) == [f"svc{i}" for i in range(6)], top
