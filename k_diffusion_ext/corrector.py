"""The predictor-corrector scheme's weights: a corrector that re-integrates the step with the
prediction at its end point, in Python floats (the plan builds one or two per step).

A polynomial through the predictions, written as sum_k a_k (l - lambda_s)^k, contributes
alpha_t sum_k a_k W_k to the step, W_k the exact integral of (l - lambda_s)^k against the step's
kernel (integrals.py). Derivation: docs/solver.md."""
from __future__ import annotations

from typing import Sequence

def taylor_rows(points: Sequence[float]) -> list[list[float]]:
    """Rows k of the map from values at `points` to the coefficients a_k of the interpolating
    polynomial written as sum_k a_k (l - points[0])^k (float64): the inverse of the Vandermonde
    matrix in u = l - points[0], column j the Lagrange basis polynomial
    L_j(u) = prod_{m != j} (u - u_m) / (u_j - u_m) expanded in powers of u. Python floats, no
    torch: the plan builds one or two per corrected step, and a few tiny tensor operators each
    would cost more than the step's latent updates."""
    u = [p - points[0] for p in points]
    rows = [[0.0] * len(u) for _ in u]
    for j, u_j in enumerate(u):
        basis = [1.0]  # coefficients of L_j in powers of u, lowest first
        for m, u_m in enumerate(u):
            if m != j:
                scale = 1.0 / (u_j - u_m)
                basis = [((basis[k - 1] if k else 0.0) - u_m * (basis[k] if k < len(basis) else 0.0)) * scale
                         for k in range(len(basis) + 1)]
        for k, coefficient in enumerate(basis):
            rows[k][j] = coefficient
    return rows


def corrector_weights(lams: Sequence[float], lam_t: float, order: int, kernel: Sequence[float]) -> tuple[float, ...]:
    """The corrector's weights on (D_t, D_s, D_{s-1}, ...), to add to the step once the model has
    been called at its end point t.

    lams = (lambda_s, lambda_{s-1}, ...), the `order` points of the predictor; kernel[k] =
    W_k = d^k + k phi(lambda_t) S_k (k >= 1), the exact integral of (l - lambda_s)^k against the
    step's kernel. The predictor interpolates its `order` points, the corrector those and
    lambda_t; the weights are corrector - predictor: the same start and the same noise, so the
    two differ by predictions only."""
    predictor = taylor_rows(lams)
    corrector = taylor_rows((lams[0], lam_t) + tuple(lams[1:order]))
    # corrector rows are for the points (lambda_s, lambda_t, lambda_{s-1}, ...): reorder to t first
    corrector = [[row[1], row[0]] + row[2:] for row in corrector]
    change = [0.0] * (order + 1)
    for k in range(1, order):
        for j in range(order):
            change[j + 1] -= kernel[k] * predictor[k][j]
    for k in range(1, order + 1):
        for j in range(order + 1):
            change[j] += kernel[k] * corrector[k][j]
    return tuple(change)
