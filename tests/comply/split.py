#!/usr/bin/env python3
"""Split the independent corpus once: 30% held out per language and per outcome (violation / allowed), at random
with a fixed seed. Run once, before any rule was tuned to it; afterwards new cases go to independent-dev.tsv only.

    python3 tests/comply/split.py SOURCE_DIR   # SOURCE_DIR/<lang>.tsv: category TAB field TAB outcome TAB text
"""
import pathlib
import random
import sys

SEED = 14
FIELDS = {
    "note": "label_note", "name": "items[0].name", "sku": "items[0].sku", "var": "items[0].variant",
    "sender": "sender.name", "saddr": "sender.address.lines[0]", "rname": "recipient.name",
    "raddr": "recipient.address.lines[0]", "rphone": "recipient.phone",
}
OUTCOMES = {"L": "hyperlink", "C": "off_platform_contact", "U": "unrelated_content", "ok": "allowed"}
HEADER = """# {title}
# Written from the marketplace rules (TikTok Shop packing and labelling, redirecting traffic; Shopee and Lazada
# off-platform rules) and how sellers write, without reading the rules' code. Split once by tests/comply/split.py
# (seed {seed}, 30% held out per language and outcome).{extra}
# Columns: language TAB category TAB field path TAB expected (rule id or "allowed") TAB text.
"""


def main(src: pathlib.Path) -> None:
    rows, seen = [], set()
    for path in sorted(src.glob("*.tsv")):
        lang = path.stem
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            category, field, outcome, text = line.split("\t")
            key = (FIELDS[field], text)
            if key in seen:
                continue
            seen.add(key)
            rows.append((lang, category, FIELDS[field], OUTCOMES[outcome], text))
    rng = random.Random(SEED)
    dev, held = [], []
    strata = sorted({(r[0], r[3] == "allowed") for r in rows})
    for stratum in strata:
        group = [r for r in rows if (r[0], r[3] == "allowed") == stratum]
        rng.shuffle(group)
        cut = round(len(group) * 0.3)
        held += group[:cut]
        dev += group[cut:]
    out = pathlib.Path(__file__).parent
    for name, part, title, extra in [
        ("independent-dev.tsv", dev, "Independent corpus, DEV split: the rules are tuned against this one.",
         "\n# New cases that the rules miss are added here, never to the held-out split."),
        ("independent-heldout.tsv", held, "Independent corpus, HELD-OUT split: frozen; never tuned against.", ""),
    ]:
        part.sort(key=lambda r: (r[0], r[3] == "allowed", r[1]))
        body = "".join("\t".join(r) + "\n" for r in part)
        (out / name).write_text(HEADER.format(title=title, seed=SEED, extra=extra) + body, encoding="utf-8")
        print(f"{name}: {len(part)} rows")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
