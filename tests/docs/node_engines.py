#!/usr/bin/env python3
"""ctest node_engines: every npm package pinned in the project's lock files runs on Node 18, the
nodejs of Debian 12 that scripts/setup.sh installs where no node is (a package whose engines say
node >= 20, as playwright-core 1.62 and later do, exits on start under it: the browser test failed
on a fresh machine). Each engines.node range is evaluated, npm's way, against Debian 12's version.
Usage: node_engines.py LOCK...   (node_engines.py --self-test checks the range reader)"""
import json
import pathlib
import re
import sys

DEBIAN_NODE = (18, 19, 0)  # bookworm's nodejs at its release (18.20.4 with its security updates)


def parse(v):
    """'18', '18.x', '18.2', '18.2.1', 'v18', '*' -> (major, minor, patch) with None for wild.
    A pre-release ('18.19.0-rc.1') raises Prerelease: npm lets such a comparator match only
    pre-releases of that very version, never a release such as Debian's."""
    v = v.strip().lstrip("v=")
    if v in ("", "*", "x", "X"):
        return (None, None, None)
    core = v.split("+")[0]
    if "-" in core:
        raise Prerelease(v)
    parts = (core.split(".") + ["x", "x"])[:3]
    return tuple(None if p in ("x", "X", "*") else int(p) for p in parts)


class Prerelease(ValueError):
    pass


def low(t):
    return tuple(0 if p is None else p for p in t)


def comparator_ok(op, t, ver):
    if op in ("", "="):
        if t[0] is None:
            return True
        n = sum(p is not None for p in t)
        return ver[:n] == t[:n]
    if op == "^":  # same first non-zero part, at least t
        lo = low(t)
        if ver < lo:
            return False
        if t[0] is None:
            return True
        if lo[0] != 0 or t[1] is None:
            return ver[0] == lo[0]
        if lo[1] != 0 or t[2] is None:
            return ver[:2] == lo[:2]
        return ver == lo
    if op in ("~", "~>"):  # same major.minor (major only if no minor), at least t
        if t[0] is None:
            return True
        lo = low(t)
        if ver < lo:
            return False
        return ver[0] == lo[0] if t[1] is None else ver[:2] == lo[:2]
    if t[0] is None:
        return op in (">=", "<=")
    n = sum(p is not None for p in t)
    if op == ">=":
        return ver >= low(t)
    if op == ">":  # past the whole of a partial version: >18 is >=19
        return ver[:n] > t[:n]
    if op == "<":
        return ver < low(t)
    if op == "<=":  # up to the whole of a partial version: <=18 takes 18.x
        return ver[:n] <= t[:n]
    raise ValueError(op)


def satisfies(rng, ver):
    """Whether release `ver` satisfies npm range `rng`; a range it cannot read does not."""
    try:
        return satisfies_or_raise(rng, ver)
    except ValueError:
        return False


def satisfies_or_raise(rng, ver):
    for alt in rng.split("||"):
        alt = alt.strip()
        if alt in ("", "*", "x"):
            return True
        m = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)  # a hyphen range: a - b is >=a <=b
        if m:
            comps = [(">=", m.group(1)), ("<=", m.group(2))]
        else:
            comps = re.findall(r"(>=|<=|~>|>|<|=|\^|~)?\s*(v?[0-9xX*][0-9A-Za-z.*+-]*)", alt)
        if not comps:
            raise ValueError(alt)
        ok = True
        for op, v in comps:
            try:
                ok = ok and comparator_ok(op, parse(v), ver)
            except Prerelease:
                # (A release satisfies >, >= a pre-release of an older version, and <, <= one of a
                # newer; a pre-release of its own version only by > and >=.)
                base = tuple(int(x) for x in v.lstrip("v=").split("+")[0].split("-")[0].split("."))
                if op in ("^", "~", "~>"):  # (from a pre-release of `base` on: as from `base`)
                    ok = ok and comparator_ok(op, base, ver)
                else:
                    ok = ok and ({">": ver >= base, ">=": ver >= base, "<": ver < base,
                                  "<=": ver < base}.get(op, False))
        if ok:
            return True
    return False


def self_test():
    v = DEBIAN_NODE
    cases = {">=18": True, ">= 18": True, ">=20": False, "^18.17.0 || >=20": True, "18 || 20": True,
             "*": True, ">=14 <21": True, "<21": True, "<=20": True, ">=12 <18": False,
             "^20 || <=16": False, ">=18.20.0": False, ">=18.0.0": True, "^14.17.0 || ^16.10.0 || >=17.0.0": True,
             "~18.19": True, "~18.20": False, "18.x": True, ">18": False, ">17": True, "<=18": True,
             "16 - 18": True, "19 - 22": False, ">=10.0.0": True, "^18": True, "^20.11.0": False,
             "~>16": False, "^16.0.0 || ~>18.0": False, "~>18": True, "~*": True, "~x": True,
             ">=16 ~*": True, "<=18.19.0-0": False, "=18.19.0-0": False, "18.19.0-rc.1": False,
             ">18.19.0-0": True, ">=16.0.0 <17 || >=18.0.0": True, "^18.0.0-0": True,
             "18.x || >=20": True, ">=v18": True, "~18": True, "18.19.x": True, "<18.19.1": True,
             "1 - 2 || >= 18": True, "1.2.3beta": False, "<18.20.0-0": True}
    bad = [f"{r!r}: {satisfies(r, v)}, expected {want}" for r, want in cases.items()
           if satisfies(r, v) != want]
    for b in bad:
        print(b, file=sys.stderr)
    print(f"{len(cases)} ranges read, {len(bad)} wrong")
    return 1 if bad else 0


if sys.argv[1:] == ["--self-test"]:
    sys.exit(self_test())
if self_test() != 0:
    sys.exit(1)
root = pathlib.Path(__file__).resolve().parents[2]
failures, checked = [], 0
for lock in sys.argv[1:]:
    packages = json.loads((root / lock).read_text()).get("packages", {})
    for path, meta in packages.items():
        engines = meta.get("engines")
        node = engines.get("node") if isinstance(engines, dict) else None
        if not isinstance(node, str):
            continue
        checked += 1
        if not satisfies(node, DEBIAN_NODE):
            failures.append(f"{lock}: {path or '(root)'} needs node {node}")
ver = ".".join(map(str, DEBIAN_NODE))
for f in failures:
    print(f, file=sys.stderr)
print(f"{checked} engine fields checked, {len(failures)} do not take node {ver}")
sys.exit(1 if failures or checked == 0 else 0)
