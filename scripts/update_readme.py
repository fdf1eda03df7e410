"""Copy the generated measurement tables (model_cards/measured/*.md) into README.md between markers
``<!-- measured:NAME.md -->`` and ``<!-- /measured -->``: README numbers are never typed by hand.

    python scripts/update_readme.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "majl_hf" / "hub" / "model_cards" / "measured"
BLOCK = re.compile(r"(<!-- measured:(?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /measured -->)", re.S)


def render(readme: str) -> str:
    def fill(m):
        body = (MEASURED / m["name"]).read_text(encoding="utf-8").strip()
        body = "\n".join(line for line in body.splitlines() if not line.startswith("<!--"))
        body = re.sub(r"^#+ .*\n", "", body, count=1).strip()  # the file's own title: README has its heading
        return f"{m.group(1)}{body}\n{m.group(4)}"

    return BLOCK.sub(fill, readme)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md is not up to date")
    args = p.parse_args(argv)
    path = ROOT / "README.md"
    old = path.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        return 0 if new == old else 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
