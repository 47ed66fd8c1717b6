"""What the ComfyUI at COMFYUI_DIR has, read from its source at collection time, before the host is
imported: a test module collects a case only where the host has what the case needs (a model
class, a node), so that an older ComfyUI runs its own cases and skips none. Test modules run it
by path (runpy.run_path): the suites import with --import-mode=importlib."""
from __future__ import annotations

import ast
import os
from pathlib import Path


def _source(relative: str) -> Path | None:
    root = os.environ.get("COMFYUI_DIR")
    path = Path(root, relative) if root else None
    return path if path is not None and path.is_file() else None


def model_classes() -> set[str] | None:
    """The names in comfy.supported_models.models; None without COMFYUI_DIR."""
    source = _source(os.path.join("comfy", "supported_models.py"))
    if source is None:
        return None
    found: set[str] = set()
    for node in ast.parse(source.read_text(encoding="utf8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
        if any(getattr(t, "id", None) == "models" for t in targets) and isinstance(node.value, (ast.List, ast.Tuple)):
            found |= {e.id for e in node.value.elts if isinstance(e, ast.Name)}
    return found


def has_text(relative: str, text: str) -> bool:
    """Whether the host's file `relative` contains `text`; True without COMFYUI_DIR (nothing to tell)."""
    source = _source(relative)
    return source is None or text in source.read_text(encoding="utf8")
