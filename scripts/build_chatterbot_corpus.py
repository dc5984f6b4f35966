"""Build ``zeronlp/datasets/chatterbot-english.txt.gz`` from the English part of chatterbot-corpus.

Run once, by hand, when the shipped copy is to be remade (zeronlp itself never reads YAML)::

    pip download chatterbot-corpus==1.3.3 --no-deps -d /tmp    # or any copy of the wheel
    python scripts/build_chatterbot_corpus.py /tmp/chatterbot_corpus-1.3.3-py2.py3-none-any.whl

The input is the wheel (or the unpacked ``chatterbot_corpus/data/english`` folder). The output is
zeronlp's dialogue file format (:mod:`zeronlp.data.dialogue`): one conversation per block, one turn
per line, blocks separated by a blank line, in the order of the YAML files (sorted by name) and of
the conversations in each. A turn's inner line breaks and runs of whitespace become one space; a
turn that is blank (16 ``' '`` turns of one 88-turn trivia conversation) cannot be written in the
format and is left out, so version 1.3.3 gives 2,026 conversations and 4,403 of its 4,419 turns.
The gzip header carries no time stamp, so the output is byte-for-byte reproducible.
Needs pyyaml (this script only).
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import zipfile
from pathlib import Path

import yaml

OUT = Path(__file__).resolve().parents[1] / "zeronlp" / "datasets" / "chatterbot-english.txt.gz"
PREFIX = "chatterbot_corpus/data/english/"


def english_files(source: Path) -> list[tuple[str, str]]:
    """``(name, YAML text)`` of every English file, sorted by name."""
    if source.is_dir():
        return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(source.glob("*.yml"))]
    with zipfile.ZipFile(source) as wheel:
        names = sorted(n for n in wheel.namelist() if n.startswith(PREFIX) and n.endswith(".yml"))
        return [(n[len(PREFIX):], wheel.read(n).decode("utf-8")) for n in names]


def clean(turn: object) -> str:
    return " ".join(str(turn).split())


def convert(files: list[tuple[str, str]]) -> tuple[str, int, int]:
    """The dialogue file's text, the number of conversations and of turns."""
    blocks, turns = [], 0
    for name, text in files:
        for conversation in yaml.safe_load(text).get("conversations") or []:
            lines = [clean(turn) for turn in conversation]
            lines = [line for line in lines if line]
            if len(lines) < 2:
                print(f"{name}: skipped a conversation of {len(lines)} turn(s)", file=sys.stderr)
                continue
            blocks.append("\n".join(lines))
            turns += len(lines)
    return "\n\n".join(blocks) + "\n", len(blocks), turns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the chatterbot-corpus wheel, or its data/english folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text, conversations, turns = convert(english_files(args.source))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as handle:
        handle.write(text.encode("utf-8"))
    args.out.write_bytes(buffer.getvalue())
    print(f"wrote {args.out}: {conversations} conversations, {turns} turns, {len(buffer.getvalue())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
