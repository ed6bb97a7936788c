"""Top costs of a py-spy profile (``py-spy record -f raw``, as ``world_load.py --profile`` writes).

    .venv/bin/python bench/profile_top.py bench/results/<tag>_server_pyspy.txt [--top 25]

Prints the share of samples per thread, the functions with the most samples on-CPU ("self") and
the frames with the most samples anywhere below them ("cumulative"), each as % of all samples.
``--under NAME`` keeps only stacks passing through a frame whose text contains NAME.
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--under", default="", help="only stacks through this frame")
    args = parser.parse_args()
    own: collections.Counter[str] = collections.Counter()
    below: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if args.under and not any(args.under in frame for frame in frames):
            continue
        count = int(count_text)
        total += count
        threads[frames[0]] += count
        own[frames[-1]] += count
        for frame in set(frames[1:]):
            below[frame] += count
    if not total:
        print("no samples")
        return
    print(f"{total} samples")
    for title, counter in (("threads", threads), ("self", own), ("cumulative", below)):
        print(f"--- {title}")
        for frame, count in counter.most_common(args.top):
            print(f"{count / total * 100:5.1f} %  {frame[:140]}")


if __name__ == "__main__":
    main()
