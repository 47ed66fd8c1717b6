"""The solver, imported the way this package was imported (as ersde_nodes._solver does):
as a subpackage of the repository folder (`<folder>.ersde_diffusers`, e.g. loaded from a WebUI
extension folder) the sibling `<folder>.k_diffusion_ext`, so that the copy shipped beside it is
the one used; pip-installed, the top-level `k_diffusion_ext`."""
from __future__ import annotations

if "." in (__package__ or ""):
    from .. import k_diffusion_ext as solver
else:
    import k_diffusion_ext as solver

__all__ = ["solver"]
