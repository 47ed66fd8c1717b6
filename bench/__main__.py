"""The benchmarks, one entry point.

    python -m bench                 # list them: what each measures, how long it runs, where it writes
    python -m bench show NAME       # one benchmark's models, samplers, protocol and report folder
    python -m bench NAME [ARGS...]  # run one (ARGS as its own --help says, e.g. --quick)

Each writes its reports to bench/results/NAME, each headed by the command, date, machine, software and
commit that made it. Problems live in bench/models, the sampler table in bench/samplers, scores in
bench/metrics, seeds and the shared protocol in bench/quality, report headers in bench/common.
"""
from __future__ import annotations

import importlib
import sys
from typing import NamedTuple


class Benchmark(NamedTuple):
    module: str
    measures: str
    models: str
    samplers: str
    runtime: str  # as measured on this project's 2-core CPU machines (docs/benchmarks.md)

    @property
    def report(self) -> str:
        """The folder its reports go to: bench/results/NAME, NAME being its module's."""
        return "bench/results/" + self.module.rsplit(".", 1)[1]

    @property
    def protocol(self) -> str:
        """The module docstring's protocol: written down before any result of it was looked at."""
        doc = importlib.import_module(self.module).__doc__ or ""
        return doc.split("\n\n", 2)[-1].strip()


DIGITS_AND_MIXTURE = "the exact 16-D mixture, EDM digits (cfg 1/3/6), flow digits (cfg 1/3) (bench.models)"
BENCHMARKS: dict[str, Benchmark] = {
    "quality": Benchmark("bench.quality", "every sampler at equal NFE, grouped by the SDE it solves: distance to the "
                         "same SDE's converged result and FID to data", DIGITS_AND_MIXTURE + "; held out: the photograph models",
                         "ours at every group's noise scale and scheme, every ComfyUI peer (bench.samplers)",
                         "~2 h on one core; --quick ~2 min"),
    "auto_policy": Benchmark("bench.auto_policy", "ER-SDE-Solver Auto's table: every fixed setting on every family "
                             "(`run --grid fit|check`, then `derive`)",
                             "EDM and flow digits, the exact guided mixture (EDM and flow paths); held out: photographs",
                             "orders 1-3 x corrected / predictor_corrector, order 3 reference, and Auto",
                             "~30 + 12 min on 2 cores (two workers)"),
    "few_step": Benchmark("bench.few_step", "cfg 1 at 4-10 NFE: the dropdown names for few-step models",
                          "mixture, digits, edm_cfg1, flow_cfg1", "our dropdown names and ComfyUI's stock samplers",
                          "~4 min on a quiet 2-core machine"),
    "cfg_pp": Benchmark("bench.cfg_pp", "CFG++ against CFG: FID against class accuracy across guidance scales",
                        "class-conditional digits (EDM; --space flow)",
                        "ER-SDE-3 CFG++ and CFG, ComfyUI's euler_ancestral_cfg_pp and dpmpp_2m_cfg_pp",
                        "~17 min on 2 shared cores"),
    "noise_study": Benchmark("bench.noise_study", "what ER-SDE-3 converges to under each noise scale",
                             "digits, edm_cfg3, flow_cfg3; --spread: the exact mixture",
                             "ER-SDE-3 at 400 NFE under each noise scale", "~40 min; --spread 100: 3 min"),
    "consistency": Benchmark("bench.consistency", "the same seed at 20 and 40 steps", "unconditional EDM digits",
                             "ER-SDE-1/2/3 (Gaussian and Brownian noise), euler_ancestral, dpmpp_2m_sde, dpmpp_2m",
                             "~1 min"),
    "overhead": Benchmark("bench.overhead", "the samplers' own cost a step: time, memory, operator calls, against "
                          "ComfyUI's and diffusers' samplers", "a one-multiply model on SD1.5, SDXL and video latents",
                          "ER-SDE-Solver 1/2/3/Auto, ComfyUI's er_sde and peers, diffusers' schedulers",
                          "~7 min on 2 cores; --quick ~30 s; --ops-only ~35 s"),
}


def listing() -> str:
    width = max(map(len, BENCHMARKS))
    return "\n".join(f"{name:<{width}}  {b.measures} ({b.runtime}) -> {b.report}" for name, b in BENCHMARKS.items())


def show(name: str) -> str:
    b = BENCHMARKS[name]
    return (f"{name}: {b.measures}\n  run: python -m bench {name}  ({b.runtime})\n  models: {b.models}\n"
            f"  samplers: {b.samplers}\n  report: {b.report}/\n\n{b.protocol}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "list"):
        print(__doc__.strip().split("\n\n")[1] + "\n\n" + listing())
        return
    name, rest = argv[0], argv[1:]
    if name == "show":
        if len(rest) != 1 or rest[0] not in BENCHMARKS:
            sys.exit(f"usage: python -m bench show NAME; known: {', '.join(BENCHMARKS)}")
        print(show(rest[0]))
        return
    if name not in BENCHMARKS:
        sys.exit(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    sys.argv = [BENCHMARKS[name].module, *rest]  # each module's main() parses sys.argv as when run itself
    importlib.import_module(BENCHMARKS[name].module).main()


if __name__ == "__main__":
    main()
