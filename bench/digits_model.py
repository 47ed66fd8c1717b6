"""Moved to bench.models.digits; this name stays for the demo and older scripts."""
from .models.digits import *  # noqa: F401,F403
from .models.digits import WEIGHTS, as_sampler_model, load_digits_data, load_digits_labels, load_models  # noqa: F401
