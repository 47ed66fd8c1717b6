"""The benchmarks, one entry point.

    python -m bench                 # list them: what each measures, how long it runs
    python -m bench NAME [ARGS...]  # run one (ARGS as its own --help says, e.g. --quick)

Each writes its reports to bench/results/NAME, each headed by the command, date, machine, software and
commit that made it.
"""
from __future__ import annotations

import importlib
import sys
from typing import NamedTuple


class Benchmark(NamedTuple):
    module: str
    measures: str
    runtime: str  # as measured on this project's 2-core CPU machines (docs/benchmarks.md)

    @property
    def report(self) -> str:
        """The folder its reports go to: bench/results/NAME, NAME being its module's."""
        return "bench/results/" + self.module.rsplit(".", 1)[1]


BENCHMARKS: dict[str, Benchmark] = {
    "quality": Benchmark("bench.quality", "every sampler at equal NFE, grouped by the SDE it solves: distance to the "
                         "same SDE's converged result and FID to data", "~2 h on one core; --quick ~2 min"),
    "auto_policy": Benchmark("bench.auto_policy", "ER-SDE-Solver Auto's table: every fixed setting on every family "
                             "(`run --grid fit|check`, then `derive`)", "~30 + 12 min on 2 cores (two workers)"),
    "few_step": Benchmark("bench.few_step", "cfg 1 at 4-10 NFE: the dropdown names for few-step models",
                          "~4 min on a quiet 2-core machine"),
    "cfg_pp": Benchmark("bench.cfg_pp", "CFG++ against CFG: FID against class accuracy across guidance scales",
                        "~17 min on 2 shared cores"),
    "noise_study": Benchmark("bench.noise_study", "what ER-SDE-3 converges to under each noise scale",
                             "~40 min; --spread 100: 3 min"),
    "consistency": Benchmark("bench.consistency", "the same seed at 20 and 40 steps", "~1 min"),
    "overhead": Benchmark("bench.overhead", "the samplers' own cost a step: time, memory, operator calls, against "
                          "ComfyUI's and diffusers' samplers", "~7 min on 2 cores; --quick ~30 s; --ops-only ~35 s"),
}


def listing() -> str:
    width = max(map(len, BENCHMARKS))
    return "\n".join(f"{name:<{width}}  {b.measures} ({b.runtime}) -> {b.report}" for name, b in BENCHMARKS.items())


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(__doc__.strip().split("\n\n")[1] + "\n\n" + listing())
        return
    name, rest = argv[0], argv[1:]
    if name not in BENCHMARKS:
        sys.exit(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    sys.argv = [BENCHMARKS[name].module, *rest]  # each module's main() parses sys.argv as when run itself
    importlib.import_module(BENCHMARKS[name].module).main()


if __name__ == "__main__":
    main()
