"""ComfyUI entry point of the ER-SDE node pack.

ComfyUI imports this folder as a package. Imported anywhere else (pytest, a WebUI, a
plain `import`), it must not fail, so the ComfyUI adapter is only loaded when ComfyUI's
modules are importable.
"""
NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
