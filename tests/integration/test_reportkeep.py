"""The head and tail of a crash report kept while relaying: a report larger
than the tail is classified from its head, its true goroutine count is the
one counted as it streamed past, and every cut is in the manifest."""
import os
import re
import subprocess

from bundles import list_bundles, manifest, member
from lib import CRASHBOX, EXAMPLES, write_policy


def leak_panic(tmp, policy_text=""):
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    pol = write_policy(tmp, policy_text)
    err = os.path.join(tmp, "stderr")
    with open(err, "wb") as f:
        r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", os.path.join(EXAMPLES, "leak-panic")],
                           stdout=subprocess.DEVNULL, stderr=f, timeout=300)
    assert r.returncode == 2
    with open(err, "rb") as f:
        relayed = f.read()
    b = list_bundles(d)
    assert len(b) == 1, b
    return relayed, os.path.join(d, b[0])


def check_report(relayed, bundle, source):
    man = manifest(bundle)
    c = man["crash"]
    assert man["crash_report_source"] == source
    assert c["kind"] == "go-panic", c
    assert c["message"] == "backend gone: 50000 requests waiting"
    assert c["culprit"]["function"] == "main.checkBackend"
    report = relayed[relayed.index(b"panic: backend gone"):relayed.index(b'{"crashbox":"crash"')]
    assert len(report) > (8 << 20) + (1 << 20), "the report is larger than its head and tail"
    if source == "stderr":  # the shim's report also counts the shim's own goroutine
        assert c["goroutines"] == len(re.findall(rb"(?m)^goroutine \d+ ", report)) == 50001
    else:
        assert c["goroutines"] == 50002
    cuts = {t["item"]: t for t in man["snapshot"]["truncated"]}
    for item in ("stderr.log", "crash.txt"):
        cut = cuts[item]
        text = member(bundle, item)
        assert cut["kept_bytes"] == len(text)
        assert text[cut["cut_at"]:].lstrip(b"\n").startswith(b"[crashbox: %d bytes cut here]" % cut["cut_bytes"])
        assert cut["cut_bytes"] > 0
    crash = member(bundle, "crash.txt")
    assert crash.startswith(b"panic: backend gone: 50000 requests waiting\n")
    assert b"main.checkBackend" in crash[:cuts["crash.txt"]["cut_at"]]
    if source == "stderr":
        # Head, mark and tail are the report's own bytes around the cut.
        cut = cuts["crash.txt"]
        assert report.startswith(crash[:cut["cut_at"]])
        tail = crash[cut["cut_at"]:].split(b"bytes cut here]\n", 1)[1]
        assert report.endswith(tail) and len(tail) == 8 << 20


def test_a_report_larger_than_the_tail_is_classified_from_its_head(tmp):
    relayed, bundle = leak_panic(tmp)
    check_report(relayed, bundle, "stderr")


def test_the_shims_report_keeps_its_head_and_says_where_it_was_cut(tmp):
    relayed, bundle = leak_panic(tmp, "[capture]\ngo_shim = yes\n")
    check_report(relayed, bundle, "shim")


def test_ordinary_logs_keep_a_short_tail_and_a_lookalike_panic_line_is_no_report(tmp):
    d = os.path.join(tmp, "b")
    os.makedirs(d)
    pol = write_policy(tmp, "[stderr]\nlog_tail_size = 64K\n")
    script = ('echo "panic: the app logs this and carries on" >&2; '
              'yes "info: request served" | head -c 3150000 >&2; echo "last words" >&2; exit 3')
    r = subprocess.run([CRASHBOX, "-p", pol, "-d", d, "--", "sh", "-c", script],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 3
    bundle = os.path.join(d, list_bundles(d)[0])
    man = manifest(bundle)
    assert man["crash"]["kind"] == "exit"
    assert man["crash"]["message"] == "exit status 3: last words", man["crash"]
    assert man["snapshot"]["truncated"] == []
    log = member(bundle, "stderr.log")
    assert len(log) == 64 << 10 and log.endswith(b"info: request served\nlast words\n")
