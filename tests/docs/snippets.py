#!/usr/bin/env python3
"""ctest docs_snippets: every code block of a document that follows a `<!-- file: PATH -->` line
must be exactly the file PATH of the tree (which the build compiles). Usage: snippets.py DOC..."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parents[2]
failures, checked = [], 0
for doc in sys.argv[1:]:
    text = (root / doc).read_text()
    for m in re.finditer(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```\n", text, re.S):
        path, shown = m.group(1), m.group(2)
        checked += 1
        f = root / path
        if not f.is_file():
            failures.append(f"{doc}: {path} does not exist")
        elif f.read_text() != shown:
            failures.append(f"{doc}: the block for {path} differs from the file")
    if "<!-- file:" in text and checked == 0:
        failures.append(f"{doc}: file markers but no block after them")
for f in failures:
    print(f, file=sys.stderr)
print(f"{checked} blocks checked, {len(failures)} differ")
sys.exit(1 if failures or checked == 0 else 0)
