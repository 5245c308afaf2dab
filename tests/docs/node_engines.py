#!/usr/bin/env python3
"""ctest node_engines: every npm package pinned in the project's lock files runs on Node 18, the
nodejs of Debian 12 that scripts/setup.sh installs where no node is (a package whose engines say
node >= 20, as playwright-core 1.62 and later do, exits on start under it: the browser test failed
on a fresh machine). Usage: node_engines.py LOCK..."""
import json
import pathlib
import re
import sys

DEBIAN_NODE = 18
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
        # The least major version each alternative (||) allows: ">=20", "^20.0.0", "20.x", ...
        least = []
        for alt in node.split("||"):
            m = re.search(r"(\d+)", alt)
            if m and not re.search(r"<\s*=?\s*\d", alt.split(m.group(1))[0]):
                least.append(int(m.group(1)))
        if least and min(least) > DEBIAN_NODE:
            failures.append(f"{lock}: {path or '(root)'} needs node {node}")
for f in failures:
    print(f, file=sys.stderr)
print(f"{checked} engine fields checked, {len(failures)} need more than node {DEBIAN_NODE}")
sys.exit(1 if failures or checked == 0 else 0)
