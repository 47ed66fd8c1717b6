"""ComfyUI adapter for the ER-SDE samplers (see issue: ComfyUI integration)."""
