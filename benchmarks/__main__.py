"""Run every benchmark in turn: `python -m benchmarks [name ...]`.

Each prints its figures (ratios against a baseline measured in the same run, medians, p99);
docs/benchmarks.md records them with the machine's conditions. They need the PostgreSQL and
Redis the tests use and create scratch databases of their own.
"""

import subprocess
import sys

ALL = {
    "import": ["benchmarks.bench_import"],
    "queue": ["benchmarks.bench_queue"],
    "export": ["benchmarks.bench_export", "--judgments", "100000"],
    "generation": ["benchmarks.bench_generation"],
}


def main() -> int:
    names = sys.argv[1:] or list(ALL)
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        if subprocess.run([sys.executable, "-m", *ALL[name]]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
