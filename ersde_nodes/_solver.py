"""The solver, imported the way this package was imported.

- ComfyUI imports the repository folder as one package (named after the folder, whatever
  the user cloned it as): this package is then `<folder>.ersde_nodes` and the solver is
  its sibling `<folder>.k_diffusion_ext`, imported relatively so that the copy shipped in
  the folder is the one used, even if another version is pip-installed.
- pip-installed, `ersde_nodes` and `k_diffusion_ext` are both top-level packages.
"""
from __future__ import annotations

if "." in (__package__ or ""):
    from .. import k_diffusion_ext as solver
else:
    import k_diffusion_ext as solver

__all__ = ["solver"]
