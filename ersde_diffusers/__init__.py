"""ER-SDE-Solver for diffusers: `from ersde_diffusers import ERSDESolverScheduler`.

    pipe.scheduler = ERSDESolverScheduler.from_config(pipe.scheduler.config)

The solver itself (k_diffusion_ext) needs only torch; this adapter needs diffusers
(`pip install "er-sde-nodes[diffusers]"`).
"""
from .noise import NOISE_SOURCES
from .scheduler import ERSDESolverScheduler, ERSDESolverSchedulerOutput, flow_match_config

# Names are a promise: a saved pipeline's model_index.json records the scheduler as
# ["ersde_diffusers.scheduler", "ERSDESolverScheduler"] (diffusers stores the class's module for
# libraries it does not know, and finds SchedulerMixin there to load it): never move the class.

__all__ = ["ERSDESolverScheduler", "ERSDESolverSchedulerOutput", "NOISE_SOURCES", "flow_match_config"]
