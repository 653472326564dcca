#!/usr/bin/env python3
"""Merge fstests results into one table (make fstests, scripts/fstests.sh).

Reads, for each configuration named on the command line, what fstests'
./check printed (out/fstests/CONFIG/results.log) and the reasons it wrote
for tests not run (out/fstests/CONFIG/CONFIG/TEST.notrun), the name of a test
the guest died in (out/fstests/CONFIG/hung) and the run's kernel, commit
and date (out/fstests/CONFIG/run). Entries replace those of the same test
and configuration in the JSON file (the committed record, so that chunks
and sessions merge), which is then written back, copied to
out/fstests/results.json and rendered as the table in the rst file, between
its ".. BEGIN GENERATED" and ".. END GENERATED" lines.
"""

import argparse
import json
import os
import re
import sys

CONFIGS = ["r2dax-always", "r2dax-inode", "r2dax-never", "ext4-dax", "ext2-dax"]
R2DAX = [c for c in CONFIGS if c.startswith("r2dax")]
BASELINE = "ext4-dax"
# Peers run only on request (FSTESTS_CONFIGS=ext2-dax): their column is
# shown once they have a result.
OPTIONAL = ["ext2-dax"]

# Differences by design: the test fails on r2dax because r2dax does what
# its design says. Shown as such, never as a pass, and only when the test's
# output is exactly the one the design predicts
# (scripts/fstests/expected/<test>.out.bad, fstests' .out.bad with the
# differing lines); any other output is a failure.
EXPECTED = {
    "generic/470": "expects the 1 MiB file to own exactly 1 MiB (``du -sh``: 1.0M); "
    "r2dax, like ext2 with its indirect blocks, counts the map blocks a file "
    "owns in ``st_blocks``, and a 1 MiB file has 256 data blocks and one map "
    "leaf (ondisk.rst): 1028 KiB, which ``du -h`` rounds to 1.1M. ext2 counts "
    "the same: a 1 MiB file on ext2 with 4 KiB blocks has 12 direct blocks, "
    "one indirect block and 244 more, i_blocks 2056 (e2fsprogs' debugfs); "
    "ext2-DAX cannot run the test itself, it has no MAP_SYNC. The test's "
    "point holds: after the log is replayed to the mark taken before unmount, "
    "the file is there with the blocks its MAP_SYNC faults allocated",
    "generic/608": "expects S_DAX to stay as it was while the file is open "
    "(ext4 and xfs defer the change to inode eviction); r2dax switches at "
    "once when nothing maps or pins the file (dax.rst)",
}

# Features whose absence makes fstests skip a test. "ext2" says whether
# ext2 has the feature: those missing from r2dax are its gaps.
FEATURES = [
    ("extended attributes", True, r"attr|xattr|_require_attrs"),
    ("POSIX ACLs", True, r"\bacl"),
    ("quota", True, r"quota"),
    ("NFS export (file handles)", True, r"exportfs|NFS export|file handle|open_by_handle|name_to_handle"),
    ("swap files", True, r"swapfile"),
    ("FIEMAP", True, r"fiemap"),
    ("O_TMPFILE", True, r"O_TMPFILE|tmpfile"),
    ("FS_IOC_GETFSUUID / label ioctls", True, r"getfsuuid|fslabel|label"),
    ("idmapped mounts", False, r"idmap"),
    ("fallocate collapse/insert range", False, r"fcollapse|finsert|collapse|insert"),
    ("fallocate zero range", False, r"fzero|zero.range"),
    ("reflink / dedupe", False, r"reflink|clone|dedupe"),
    ("metadata journaling", False, r"journal"),
    ("freeze", True, r"freez"),
    ("FIBMAP", True, r"FIBMAP"),
]


def feature_of(reason):
    for name, ext2, pattern in FEATURES:
        if re.search(pattern, reason, re.IGNORECASE):
            return name, ext2
    return None, False


def differs_as_designed(outdir, cfg, test):
    """Whether a failed test's output is the one the design predicts."""
    here = os.path.dirname(os.path.abspath(__file__))
    want = os.path.join(here, "fstests", "expected", test.replace("/", "-") + ".out.bad")
    got = os.path.join(outdir, cfg, cfg, test + ".out.bad")
    try:
        with open(want) as w, open(got) as g:
            return w.read() == g.read()
    except OSError:
        return False


TEST_LINE = re.compile(r"^([a-z0-9]+/[0-9]+)\s+(.*)$")


def parse_run(outdir, cfg):
    """The entries one configuration's run produced: {test: entry}.

    ./check prints one line per test (name, then its time, "[not run]
    reason" or what failed) and a summary ("Failures: ..."); the reason a
    test was not run is also in RESULT_BASE/CONFIG/TEST.notrun.
    """
    res = os.path.join(outdir, cfg)
    kernel, commit, date = "?", "?", "?"
    try:
        with open(os.path.join(res, "run")) as f:
            kernel, commit, date = f.read().split()[:3]
    except (OSError, ValueError):
        pass
    base = {"kernel": kernel, "commit": commit, "date": date}
    lines, failures, ran = {}, set(), None
    try:
        with open(os.path.join(res, "results.log"), errors="replace") as f:
            log = f.read().replace("\r", "").splitlines()
    except OSError:
        log = []
    for line in log:
        m = TEST_LINE.match(line)
        if m:
            lines[m.group(1)] = m.group(2).strip()
        elif line.startswith("Failures:"):
            failures.update(line.split()[1:])
        elif line.startswith("Ran:"):
            ran = line.split()[1:]
    hung = None
    try:
        with open(os.path.join(res, "hung")) as f:
            hung = f.read().strip()
    except OSError:
        pass
    entries = {}
    for name in (ran if ran is not None else lines):
        if name == hung:
            continue
        text = lines.get(name, "")
        e = dict(base, time=0)
        times = re.findall(r"\b([0-9]+)s\b", text)
        if times:
            e["time"] = int(times[-1])
        notrun = os.path.join(res, cfg, name + ".notrun")
        if os.path.exists(notrun) or text.startswith("[not run]"):
            try:
                with open(notrun, errors="replace") as f:
                    reason = f.read()
            except OSError:
                reason = text[len("[not run]"):]
            e["status"] = "notrun"
            e["reason"] = " ".join(reason.split())
        elif name in failures or not re.fullmatch(r"([0-9]+s \.\.\.\s+)?[0-9]+s", text):
            # A test that ./check did not count as failed but whose line
            # is not a time alone (an expunged test, a cut-off run) is not
            # a pass either.
            e["status"] = "fail"
            e["reason"] = text or "no result"
            if (name in EXPECTED and cfg in R2DAX
                    and differs_as_designed(outdir, cfg, name)):
                e["status"] = "differs"
                e["reason"] = "differs by design"
        else:
            e["status"] = "pass"
            e["reason"] = ""
        entries[name] = e
    if hung:
        entries[hung] = dict(base, status="fail", time=0,
                             reason="hung: the guest was killed by the watchdog in this test")
    return entries


def cell(test, cfg, e):
    if e is None:
        return "--"
    st = e["status"]
    if st == "pass":
        text = "pass"
    elif st == "fail":
        text = "**FAIL**: " + e["reason"]
    elif st == "differs":
        text = "differs by design (see above)"
    else:
        text = "notrun: " + e["reason"]
    return text.replace("\n", " ").replace("|", "/")


def tests_count(names):
    n = len(names)
    return f"{n} test{'' if n == 1 else 's'} ({', '.join(sorted(names))})"


def render(db):
    tests = db["tests"]
    names = sorted(tests)
    lines = []
    configs = [c for c in CONFIGS if c not in OPTIONAL
               or any(c in tests[t] for t in names)]
    total = {c: {"pass": 0, "fail": 0, "notrun": 0, "differs": 0} for c in configs}
    for t in names:
        for c in configs:
            e = tests[t].get(c)
            if e:
                total[c][e["status"]] += 1

    lines.append("Summary")
    lines.append("=======")
    lines.append("")
    for c in configs:
        t = total[c]
        d = f", {t['differs']} differs by design" if t["differs"] else ""
        lines.append(f"- ``{c}``: {t['pass']} pass, {t['fail']} fail, {t['notrun']} notrun{d}")
    diff = sorted(t for t in EXPECTED if t in tests)
    if diff:
        lines.append(f"- documented differences by design: {', '.join(diff)}")
    runs = sorted({(e.get('kernel'), e.get('commit'), e.get('date', '')[:10])
                   for t in names for e in tests[t].values()})
    lines.append("- runs merged here (kernel, commit, date): "
                 + "; ".join(f"{k} {c} {d}" for k, c, d in runs))
    lines.append("")

    # Gaps: tests r2dax skips for a missing feature, unless ext4-DAX
    # skips them too (a test ext4-DAX has not run yet counts).
    gaps, others = {}, {}
    for t in names:
        base = tests[t].get(BASELINE)
        if base and base["status"] == "notrun":
            continue
        for c in R2DAX:
            e = tests[t].get(c)
            if e and e["status"] == "notrun":
                feat, ext2 = feature_of(e["reason"])
                if ext2:
                    gaps.setdefault(feat, set()).add(t)
                elif base:
                    others.setdefault(feat or e["reason"], set()).add(t)
                break
    lines.append("Gaps")
    lines.append("====")
    lines.append("")
    lines.append("Features ext2 has and r2dax lacks, with the tests each costs "
                 "(tests r2dax skips for want of the feature, unless ext4-DAX "
                 "skips them too):")
    lines.append("")
    if gaps:
        for k in sorted(gaps, key=lambda k: (-len(gaps[k]), k)):
            lines.append(f"- {k}: {tests_count(gaps[k])}")
    else:
        lines.append("- none found in the tests run so far")
    lines.append("")
    if others:
        lines.append("Other tests r2dax skips and ext4-DAX runs (features "
                     "ext2 lacks too, or a reason of r2dax's own):")
        lines.append("")
        for k in sorted(others, key=lambda k: (-len(others[k]), k)):
            lines.append(f"- {k}: {tests_count(others[k])}")
        lines.append("")

    if diff:
        lines.append("Differences by design")
        lines.append("=====================")
        lines.append("")
        for t in diff:
            lines.append(f"``{t}``")
            lines.append(f"    {EXPECTED[t]}. Counted as a difference only when its output is "
                         f"exactly ``scripts/fstests/expected/{t.replace('/', '-')}.out.bad``.")
        lines.append("")

    lines.append("Results")
    lines.append("=======")
    lines.append("")
    lines.append(".. list-table::")
    lines.append("   :header-rows: 1")
    lines.append("")
    lines.append("   * - test")
    for c in configs:
        lines.append(f"     - {c}")
    for t in names:
        lines.append(f"   * - {t}")
        for c in configs:
            lines.append(f"     - {cell(t, c, tests[t].get(c))}")
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="out/fstests")
    ap.add_argument("--json", help="the committed record to merge into")
    ap.add_argument("--rst", help="the document with the table")
    ap.add_argument("--verdict", action="store_true",
                    help="make check: print 'N passed, N failed, N skipped' for "
                    "the runs just made; exit 1 if any test failed")
    ap.add_argument("configs", nargs="*", help="configurations just run")
    a = ap.parse_args()

    db = {"configs": CONFIGS, "tests": {}}
    if a.json and os.path.exists(a.json):
        with open(a.json) as f:
            db = json.load(f)
        db["configs"] = CONFIGS
    new = {}
    for cfg in a.configs:
        if cfg not in CONFIGS:
            sys.exit(f"fstests-report: unknown configuration {cfg}")
        new[cfg] = parse_run(a.out, cfg)
        for t, e in new[cfg].items():
            db["tests"].setdefault(t, {})[cfg] = e
    text = json.dumps(db, indent=1, sort_keys=True) + "\n"
    for path in (a.json, os.path.join(a.out, "results.json")):
        if path:
            with open(path, "w") as f:
                f.write(text)

    if a.rst:
        with open(a.rst) as f:
            doc = f.read()
        begin, end = ".. BEGIN GENERATED\n", ".. END GENERATED\n"
        i, j = doc.find(begin), doc.find(end)
        if i < 0 or j < i:
            sys.exit(f"fstests-report: {a.rst} lacks the generated-section markers")
        doc = doc[:i + len(begin)] + "\n" + render(db) + "\n" + doc[j:]
        with open(a.rst, "w") as f:
            f.write(doc)

    passed = failed = skipped = 0
    for cfg, entries in new.items():
        counts = {}
        for t in sorted(entries):
            st = entries[t]["status"]
            counts[st] = counts.get(st, 0) + 1
            if st == "fail":
                print(f"fstests: {cfg}: {t} FAIL: {entries[t]['reason']}")
        print(f"fstests: {cfg}: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
        passed += counts.get("pass", 0) + counts.get("differs", 0)
        failed += counts.get("fail", 0)
        skipped += counts.get("notrun", 0)
        if not entries:
            print(f"fstests: {cfg}: no results")
            failed += 1
    if a.verdict:
        print(f"{passed} passed, {failed} failed, {skipped} skipped")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
