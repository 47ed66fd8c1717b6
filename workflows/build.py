"""Builds the example workflows: each graph is described once, in Python, below, and written
twice, so the two can never drift apart:

    workflows/<name>.json       ComfyUI's UI format (version 0.4): open it in ComfyUI
                                (drag it onto the canvas, or Workflow > Browse Templates,
                                where ComfyUI lists this pack's workflows/ folder)
    workflows/api/<name>.json   the same graph in ComfyUI's API format, for POST /prompt

Usage (from the repository root; needs no ComfyUI and no torch):

    python workflows/build.py           # (re)write the JSON files
    python workflows/build.py --check   # exit 1 if a committed file differs from the output

The committed JSON is this script's output; edit the descriptions here, never the JSON.
The thumbnails (workflows/<name>.jpg) are screenshots made by tools/thumbnails.py.
Node ids, input names and input order of this pack's nodes come from ersde_nodes/names.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ersde_nodes import names  # noqa: E402  (host-free, torch-free)

# --------------------------------------------------------------------------------------
# Node schemas: the inputs of each node type in the host's order (INPUT_TYPES order), each
# a link type (MODEL, CLIP, ...) or a widget kind (INT, FLOAT, STRING, COMBO), and outputs.
# The host tests check these against the node definitions of a real ComfyUI.

WIDGET_KINDS = ("INT", "FLOAT", "STRING", "COMBO", "BOOLEAN")
FRONTEND_ONLY = ("Note", "MarkdownNote")  # nodes the frontend leaves out of API prompts


@dataclass(frozen=True)
class In:
    name: str
    kind: str
    control_after_generate: bool = False  # the frontend adds a "fixed/randomize" widget after it
    optional: bool = False  # an optional link input (a slot that may stay unconnected)


@dataclass(frozen=True)
class Schema:
    inputs: tuple[In, ...]
    outputs: tuple[tuple[str, str], ...]  # (name, type)


_ER_SDE_KINDS = {
    names.IN_ORDER: "INT", names.IN_NOISE_SCALE: "COMBO", names.IN_CUSTOM_NOISE_SCALE: "STRING",
    names.IN_ETA: "FLOAT", names.IN_S_NOISE: "FLOAT", names.IN_NOISE_TYPE: "COMBO", names.IN_SCHEME: "COMBO",
    names.IN_CFG_PP: "BOOLEAN",
}
_KSAMPLER_KINDS = {
    names.IN_MODEL: "MODEL", names.IN_SEED: "INT", names.IN_STEPS: "INT", names.IN_CFG: "FLOAT",
    names.IN_SCHEDULER: "COMBO", names.IN_POSITIVE: "CONDITIONING", names.IN_NEGATIVE: "CONDITIONING",
    names.IN_LATENT_IMAGE: "LATENT", names.IN_DENOISE: "FLOAT", **_ER_SDE_KINDS,
}

SCHEMAS: dict[str, Schema] = {
    "CheckpointLoaderSimple": Schema((In("ckpt_name", "COMBO"),),
                                     (("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE"))),
    "CLIPTextEncode": Schema((In("text", "STRING"), In("clip", "CLIP")), (("CONDITIONING", "CONDITIONING"),)),
    "EmptyLatentImage": Schema((In("width", "INT"), In("height", "INT"), In("batch_size", "INT")),
                               (("LATENT", "LATENT"),)),
    "KSampler": Schema((In("model", "MODEL"), In("seed", "INT", True), In("steps", "INT"), In("cfg", "FLOAT"),
                        In("sampler_name", "COMBO"), In("scheduler", "COMBO"), In("positive", "CONDITIONING"),
                        In("negative", "CONDITIONING"), In("latent_image", "LATENT"), In("denoise", "FLOAT")),
                       (("LATENT", "LATENT"),)),
    "VAEDecode": Schema((In("samples", "LATENT"), In("vae", "VAE")), (("IMAGE", "IMAGE"),)),
    "SaveImage": Schema((In("images", "IMAGE"), In("filename_prefix", "STRING")), ()),
    "PreviewImage": Schema((In("images", "IMAGE"),), ()),
    "CFGGuider": Schema((In("model", "MODEL"), In("positive", "CONDITIONING"), In("negative", "CONDITIONING"),
                         In("cfg", "FLOAT")), (("GUIDER", "GUIDER"),)),
    "RandomNoise": Schema((In("noise_seed", "INT", True),), (("NOISE", "NOISE"),)),
    "BasicScheduler": Schema((In("model", "MODEL"), In("scheduler", "COMBO"), In("steps", "INT"),
                              In("denoise", "FLOAT")), (("SIGMAS", "SIGMAS"),)),
    "SamplerCustomAdvanced": Schema((In("noise", "NOISE"), In("guider", "GUIDER"), In("sampler", "SAMPLER"),
                                     In("sigmas", "SIGMAS"), In("latent_image", "LATENT")),
                                    (("output", "LATENT"), ("denoised_output", "LATENT"))),
    "LatentUpscaleBy": Schema((In("samples", "LATENT"), In("upscale_method", "COMBO"), In("scale_by", "FLOAT")),
                              (("LATENT", "LATENT"),)),
    names.SAMPLER_NODE_ID: Schema(tuple(In(n, _ER_SDE_KINDS[n]) for n in names.SAMPLER_INPUTS),
                                  ((names.OUT_SAMPLER, "SAMPLER"),)),
    names.KSAMPLER_NODE_ID: Schema(tuple(In(n, _KSAMPLER_KINDS[n], n == names.IN_SEED) for n in names.KSAMPLER_INPUTS),
                                   ((names.OUT_LATENT, "LATENT"),)),
    "Note": Schema((In("text", "STRING"),), ()),
    # Split-file loaders and the nodes of the flow-matching models' graphs, as in ComfyUI's own
    # examples. "device" is the loaders' optional (advanced) widget; the frontend saves it too.
    "UNETLoader": Schema((In("unet_name", "COMBO"), In("weight_dtype", "COMBO")), (("MODEL", "MODEL"),)),
    "CLIPLoader": Schema((In("clip_name", "COMBO"), In("type", "COMBO"), In("device", "COMBO")),
                         (("CLIP", "CLIP"),)),
    "DualCLIPLoader": Schema((In("clip_name1", "COMBO"), In("clip_name2", "COMBO"), In("type", "COMBO"),
                              In("device", "COMBO")), (("CLIP", "CLIP"),)),
    "VAELoader": Schema((In("vae_name", "COMBO"),), (("VAE", "VAE"),)),
    "FluxGuidance": Schema((In("conditioning", "CONDITIONING"), In("guidance", "FLOAT")),
                           (("CONDITIONING", "CONDITIONING"),)),
    "ConditioningZeroOut": Schema((In("conditioning", "CONDITIONING"),), (("CONDITIONING", "CONDITIONING"),)),
    "ModelSamplingSD3": Schema((In("model", "MODEL"), In("shift", "FLOAT")), (("MODEL", "MODEL"),)),
    "ModelSamplingAuraFlow": Schema((In("model", "MODEL"), In("shift", "FLOAT")), (("MODEL", "MODEL"),)),
    "EmptySD3LatentImage": Schema((In("width", "INT"), In("height", "INT"), In("batch_size", "INT")),
                                  (("LATENT", "LATENT"),)),
    "Wan22ImageToVideoLatent": Schema((In("vae", "VAE"), In("width", "INT"), In("height", "INT"), In("length", "INT"),
                                       In("batch_size", "INT"), In("start_image", "IMAGE", optional=True)),
                                      (("LATENT", "LATENT"),)),
    "CreateVideo": Schema((In("images", "IMAGE"), In("fps", "FLOAT"), In("audio", "AUDIO", optional=True)),
                          (("VIDEO", "VIDEO"),)),
    "SaveVideo": Schema((In("video", "VIDEO"), In("filename_prefix", "STRING"), In("format", "COMBO"),
                         In("codec", "COMBO")), ()),
    "BasicGuider": Schema((In("model", "MODEL"), In("conditioning", "CONDITIONING")), (("GUIDER", "GUIDER"),)),
    "KSamplerSelect": Schema((In("sampler_name", "COMBO"),), (("SAMPLER", "SAMPLER"),)),
    # Flux.2's nodes (comfy_extras/nodes_flux.py; not in ComfyUI 0.3.64)
    "EmptyFlux2LatentImage": Schema((In("width", "INT"), In("height", "INT"), In("batch_size", "INT")),
                                    (("LATENT", "LATENT"),)),
    "Flux2Scheduler": Schema((In("steps", "INT"), In("width", "INT"), In("height", "INT")), (("SIGMAS", "SIGMAS"),)),
}

# --------------------------------------------------------------------------------------
# Graph description


@dataclass
class Out:
    node: "Node"
    slot: int


@dataclass
class Node:
    id: int
    type: str
    pos: tuple[float, float]
    values: dict[str, Any]  # widget values and links (Out), by input name
    size: tuple[float, float] | None = None
    title: str | None = None
    color: str | None = None
    bgcolor: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, output_name: str) -> Out:
        for i, (name, _) in enumerate(SCHEMAS[self.type].outputs):
            if name == output_name:
                return Out(self, i)
        raise KeyError(f"{self.type} has no output {output_name!r}")

    @property
    def schema(self) -> Schema:
        return SCHEMAS[self.type]

    def link_inputs(self) -> list[In]:
        return [i for i in self.schema.inputs if i.kind not in WIDGET_KINDS]

    def widget_inputs(self) -> list[In]:
        return [i for i in self.schema.inputs if i.kind in WIDGET_KINDS]

    def widgets_values(self) -> list[Any]:
        values = []
        for i in self.widget_inputs():
            values.append(self.values[i.name])
            if i.control_after_generate:
                values.append("fixed")  # keep the seed, so that the example reproduces
        return values

    def auto_size(self) -> tuple[float, float]:
        if self.size:
            return self.size
        slots = max(len(self.link_inputs()), len(self.schema.outputs))
        widgets = len(self.widgets_values())
        return (320.0, float(slots * 20 + widgets * 22 + 28))  # >= the frontend's computeSize()


@dataclass
class Group:
    title: str
    nodes: list[Node]
    color: str = "#3f789e"


NOTE_COLOR, NOTE_BGCOLOR = "#432", "#653"


class Graph:
    def __init__(self, name: str, description: str, host_models: tuple[str, ...] = ()):
        self.name = name
        self.description = description
        # The comfy.supported_models classes that load this graph's model files, for graphs
        # whose models not every ComfyUI the pack supports knows (0.3.64 lacks Z-Image and
        # Flux.2): the host tests check such a graph only where the host has them.
        self.host_models = host_models
        self.nodes: list[Node] = []
        self.groups: list[Group] = []

    def add(self, type_: str, pos: tuple[float, float], *, size=None, title=None, properties=None,
            **values: Any) -> Node:
        schema = SCHEMAS[type_]
        declared = [i.name for i in schema.inputs]
        unknown = set(values) - set(declared)
        missing = {i.name for i in schema.inputs if not i.optional} - set(values)
        if unknown or missing:
            raise ValueError(f"{self.name}: {type_} unknown inputs {sorted(unknown)}, missing {sorted(missing)}")
        values.update({i.name: None for i in schema.inputs if i.optional and i.name not in values})
        node = Node(len(self.nodes) + 1, type_, pos, values, size=size, title=title,
                    properties=dict(properties or {}))
        self.nodes.append(node)
        return node

    def note(self, pos, size, text: str, title: str = "Note") -> Node:
        node = self.add("Note", pos, size=size, title=title, text=text)
        node.color, node.bgcolor = NOTE_COLOR, NOTE_BGCOLOR
        return node

    def group(self, title: str, *nodes: Node, color: str = "#3f789e") -> None:
        self.groups.append(Group(title, list(nodes), color))

    # ---- UI format (ComfyUI / LiteGraph workflow, version 0.4)
    def links(self) -> list[list[Any]]:
        links = []
        for node in self.nodes:
            for slot, inp in enumerate(node.link_inputs()):
                src = node.values[inp.name]
                if src is None:  # an unconnected optional input
                    continue
                links.append([len(links) + 1, src.node.id, src.slot, node.id, slot, inp.kind])
        return links

    def execution_order(self) -> dict[int, int]:
        done: dict[int, int] = {}

        def visit(node: Node) -> None:
            if node.id in done:
                return
            for inp in node.link_inputs():
                if node.values[inp.name] is not None:
                    visit(node.values[inp.name].node)
            done[node.id] = len(done)

        for node in sorted(self.nodes, key=lambda n: (any(n.values[i.name] is not None for i in n.link_inputs()), n.id)):
            visit(node)
        return done

    def to_ui(self) -> dict[str, Any]:
        links = self.links()
        order = self.execution_order()
        ui_nodes = []
        for node in self.nodes:
            entry: dict[str, Any] = {
                "id": node.id, "type": node.type, "pos": list(node.pos), "size": list(node.auto_size()),
                "flags": {}, "order": order[node.id], "mode": 0,
            }
            if node.title:
                entry["title"] = node.title
            if node.color:
                entry["color"], entry["bgcolor"] = node.color, node.bgcolor
            inputs = []
            for slot, inp in enumerate(node.link_inputs()):
                link = next((l[0] for l in links if l[3] == node.id and l[4] == slot), None)
                inputs.append({"name": inp.name, "type": inp.kind, "link": link})
            if inputs:
                entry["inputs"] = inputs
            outputs = []
            for slot, (name, type_) in enumerate(node.schema.outputs):
                out_links = [l[0] for l in links if l[1] == node.id and l[2] == slot]
                outputs.append({"name": name, "type": type_, "links": out_links, "slot_index": slot})
            if outputs:
                entry["outputs"] = outputs
            properties = {"Node name for S&R": node.type} if node.type not in FRONTEND_ONLY else {}
            properties.update(node.properties)
            entry["properties"] = properties
            entry["widgets_values"] = node.widgets_values()
            ui_nodes.append(entry)
        groups = []
        for gid, group in enumerate(self.groups, start=1):
            x0 = min(n.pos[0] for n in group.nodes) - 20
            y0 = min(n.pos[1] for n in group.nodes) - 30 - 46
            x1 = max(n.pos[0] + n.auto_size()[0] for n in group.nodes) + 20
            y1 = max(n.pos[1] + n.auto_size()[1] for n in group.nodes) + 20
            groups.append({"id": gid, "title": group.title, "bounding": [x0, y0, x1 - x0, y1 - y0],
                           "color": group.color, "font_size": 24, "flags": {}})
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "er-sde-nodes/workflows/" + self.name)),
            "revision": 0,
            "last_node_id": max(n.id for n in self.nodes),
            "last_link_id": len(links),
            "nodes": ui_nodes,
            "links": links,
            "groups": groups,
            "config": {},
            "extra": {"ds": self.fit_view(1600, 900)},
            "version": 0.4,
        }

    def fit_view(self, width: float, height: float) -> dict[str, Any]:
        """The canvas view (scale, offset) that shows the whole graph in a width x height window."""
        ui_boxes = [(n.pos[0], n.pos[1] - 30, n.pos[0] + n.auto_size()[0], n.pos[1] + n.auto_size()[1])
                    for n in self.nodes]
        x0 = min(b[0] for b in ui_boxes) - 60
        y0 = min(b[1] for b in ui_boxes) - 100
        x1 = max(b[2] for b in ui_boxes) + 60
        y1 = max(b[3] for b in ui_boxes) + 40
        scale = min(1.0, width / (x1 - x0), height / (y1 - y0))
        offset = [(width / scale - (x1 - x0)) / 2 - x0, (height / scale - (y1 - y0)) / 2 - y0]
        return {"scale": round(scale, 4), "offset": [round(offset[0], 1), round(offset[1], 1)]}

    # ---- API format (POST /prompt)
    def to_api(self) -> dict[str, Any]:
        prompt: dict[str, Any] = {}
        for node in self.nodes:
            if node.type in FRONTEND_ONLY:
                continue
            inputs: dict[str, Any] = {}
            for inp in node.schema.inputs:
                value = node.values[inp.name]
                if value is None and inp.optional:
                    continue
                inputs[inp.name] = [str(value.node.id), value.slot] if isinstance(value, Out) else value
            prompt[str(node.id)] = {"inputs": inputs, "class_type": node.type,
                                    "_meta": {"title": node.title or DISPLAY_NAMES.get(node.type, node.type)}}
        return prompt


DISPLAY_NAMES = {
    "CheckpointLoaderSimple": "Load Checkpoint", "CLIPTextEncode": "CLIP Text Encode (Prompt)",
    "EmptyLatentImage": "Empty Latent Image", "VAEDecode": "VAE Decode", "SaveImage": "Save Image",
    "PreviewImage": "Preview Image", "LatentUpscaleBy": "Upscale Latent By",
    "UNETLoader": "Load Diffusion Model", "CLIPLoader": "Load CLIP", "VAELoader": "Load VAE",
    "EmptySD3LatentImage": "EmptySD3LatentImage", "CreateVideo": "Create Video", "SaveVideo": "Save Video",
    names.SAMPLER_NODE_ID: names.SAMPLER_NODE_DISPLAY_NAME, names.KSAMPLER_NODE_ID: names.KSAMPLER_NODE_DISPLAY_NAME,
}

# --------------------------------------------------------------------------------------
# The workflows

SD15_CKPT = "v1-5-pruned-emaonly.safetensors"
SDXL_CKPT = "sd_xl_base_1.0.safetensors"
SD15_URL = "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/v1-5-pruned-emaonly.safetensors"
SDXL_URL = "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors"
SEED = 42
# Layout columns: loader and note | prompts and latent | sampling | (second pass) | output.
XA, XB, XC, XD, XE = 40, 540, 1020, 1420, 1820

# The ER-SDE knobs at the nodes' defaults (ersde_nodes/specs.py); the host tests check that
# these still are the defaults.
ER_SDE_DEFAULTS: dict[str, Any] = {
    names.IN_ORDER: 3, names.IN_NOISE_SCALE: "paper_default", names.IN_CUSTOM_NOISE_SCALE: names.DEFAULT_CUSTOM_EXPRESSION,
    names.IN_ETA: 1.0, names.IN_S_NOISE: 1.0, names.IN_NOISE_TYPE: names.NOISE_GAUSSIAN,
    names.IN_SCHEME: names.SCHEME_CORRECTED, names.IN_CFG_PP: False,
}

SD15_POSITIVE = ("a lighthouse on a rocky coast at sunset, dramatic clouds, golden light, "
                 "crashing waves, detailed oil painting")
SD15_NEGATIVE = "blurry, low quality, watermark, text, deformed"
SDXL_POSITIVE = ("a red fox in a snowy birch forest at dawn, soft warm light, breath visible in the cold air, "
                 "highly detailed wildlife photograph, 85mm, shallow depth of field")
SDXL_NEGATIVE = "blurry, lowres, watermark, text, oversaturated, cartoon"

SETTINGS = (
    "Settings that suit ER-SDE-Solver:\n"
    "- scheduler: karras or exponential\n"
    "- steps: 20-30 (one model call a step)\n"
    "- order 3 (er_sde_solver_3), the default noise scale (paper_default), eta 1, s_noise 1\n"
    "- cfg as usual for the model (SD1.5 about 7, SDXL about 5-7)\n"
    "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore"
)


def _download(ckpt: str, url: str, model: str) -> str:
    return (f"Download the {model} checkpoint\n  {ckpt}\nfrom\n  {url}\n"
            f"and put it in ComfyUI/models/checkpoints/ (then press R to refresh the lists).\n\n")


def _models(ckpt: str, url: str) -> dict[str, Any]:
    return {"models": [{"name": ckpt, "url": url + "?download=true", "directory": "checkpoints"}]}


def _prompt_nodes(g: Graph, clip: Out, x: float, y: float, positive: str, negative: str):
    pos = g.add("CLIPTextEncode", (x, y), size=(420, 170), title="Positive prompt", text=positive, clip=clip)
    neg = g.add("CLIPTextEncode", (x, y + 230), size=(420, 130), title="Negative prompt", text=negative, clip=clip)
    return pos, neg


def sd15_txt2img_ksampler() -> Graph:
    g = Graph("sd15_txt2img_ksampler_er_sde_solver_3",
              "SD1.5 text to image, stock KSampler with er_sde_solver_3 (512x512, 20 steps)")
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(SD15_CKPT, SD15_URL),
                 ckpt_name=SD15_CKPT)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, SD15_POSITIVE, SD15_NEGATIVE)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=512, height=512, batch_size=1)
    ks = g.add("KSampler", (XC, 120), size=(320, 262), model=ckpt["MODEL"], seed=SEED, steps=20, cfg=7.0,
               sampler_name=names.SAMPLER_NAME_BY_ORDER[3], scheduler="karras", positive=pos["CONDITIONING"],
               negative=neg["CONDITIONING"], latent_image=latent["LATENT"], denoise=1.0)
    dec = g.add("VAEDecode", (XD, 120), size=(210, 46), samples=ks["LATENT"], vae=ckpt["VAE"])
    save = g.add("SaveImage", (XD, 220), size=(400, 440), images=dec["IMAGE"],
                 filename_prefix="ER-SDE/sd15_txt2img")
    g.note((XA, 300), (440, 330), _download(SD15_CKPT, SD15_URL, "Stable Diffusion 1.5") + SETTINGS +
           "\n\nThe KSampler's sampler_name is er_sde_solver_3 (also er_sde_solver_1 and _2).",
           title="Read me: ER-SDE-Solver with the stock KSampler")
    g.group("Prompt", pos, neg, latent)
    g.group("Sample with er_sde_solver_3", ks)
    return g


def sd15_custom_advanced() -> Graph:
    g = Graph("sd15_sampler_custom_advanced_er_sde",
              "SD1.5 with SamplerCustomAdvanced and the ER-SDE-Solver Sampler node (every knob visible)")
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(SD15_CKPT, SD15_URL),
                 ckpt_name=SD15_CKPT)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, SD15_POSITIVE, SD15_NEGATIVE)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=512, height=512, batch_size=1)
    noise = g.add("RandomNoise", (XC, 120), noise_seed=SEED)
    guider = g.add("CFGGuider", (XC, 260), model=ckpt["MODEL"], positive=pos["CONDITIONING"],
                   negative=neg["CONDITIONING"], cfg=7.0)
    sampler = g.add(names.SAMPLER_NODE_ID, (XC, 420), **ER_SDE_DEFAULTS)
    sigmas = g.add("BasicScheduler", (XC, 680), model=ckpt["MODEL"], scheduler="exponential", steps=20, denoise=1.0)
    adv = g.add("SamplerCustomAdvanced", (XD, 120), size=(260, 110), noise=noise["NOISE"], guider=guider["GUIDER"],
                sampler=sampler[names.OUT_SAMPLER], sigmas=sigmas["SIGMAS"], latent_image=latent["LATENT"])
    dec = g.add("VAEDecode", (XD, 290), size=(210, 46), samples=adv["output"], vae=ckpt["VAE"])
    save = g.add("SaveImage", (XD, 390), size=(400, 440), images=dec["IMAGE"],
                 filename_prefix="ER-SDE/sd15_custom_advanced")
    g.note((XA, 300), (440, 400), _download(SD15_CKPT, SD15_URL, "Stable Diffusion 1.5") + SETTINGS +
           "\n\nER-SDE-Solver Sampler knobs: order 1-3; noise_scale picks phi (custom uses the expression "
           "in custom_noise_scale); eta 0 = deterministic ODE; s_noise scales the injected noise; "
           "noise_type brownian keeps images similar across step counts; "
           "scheme reference reproduces the paper's code.",
           title="Read me: ER-SDE-Solver Sampler + SamplerCustomAdvanced")
    g.group("Prompt", pos, neg, latent)
    g.group("ER-SDE-Solver sampling", noise, guider, sampler, sigmas)
    return g


def sdxl_txt2img_ksampler_ersde() -> Graph:
    g = Graph("sdxl_txt2img_ksampler_ersde",
              "SDXL base text to image at 1024x1024 with the KSampler (ER-SDE) node")
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(SDXL_CKPT, SDXL_URL),
                 ckpt_name=SDXL_CKPT)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, SDXL_POSITIVE, SDXL_NEGATIVE)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=1024, height=1024, batch_size=1)
    ks = g.add(names.KSAMPLER_NODE_ID, (XC, 120), model=ckpt["MODEL"], seed=SEED, steps=25,
               cfg=6.0, scheduler="karras", positive=pos["CONDITIONING"], negative=neg["CONDITIONING"],
               latent_image=latent["LATENT"], denoise=1.0, **ER_SDE_DEFAULTS)
    dec = g.add("VAEDecode", (XD, 120), size=(210, 46), samples=ks[names.OUT_LATENT], vae=ckpt["VAE"])
    save = g.add("SaveImage", (XD, 220), size=(440, 480), images=dec["IMAGE"],
                 filename_prefix="ER-SDE/sdxl_txt2img")
    g.note((XA, 300), (440, 340), _download(SDXL_CKPT, SDXL_URL, "SDXL base 1.0") + SETTINGS +
           "\n\nKSampler (ER-SDE) = the stock KSampler's inputs + the ER-SDE knobs.",
           title="Read me: KSampler (ER-SDE) with SDXL")
    g.group("Prompt", pos, neg, latent)
    g.group("Sample with KSampler (ER-SDE)", ks)
    return g


def sdxl_two_pass() -> Graph:
    g = Graph("sdxl_two_pass_upscale_ersde",
              "SDXL two-pass: base at 1024x1024, then upscale the latent 1.5x and a second pass at denoise 0.5")
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(SDXL_CKPT, SDXL_URL),
                 ckpt_name=SDXL_CKPT)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, SDXL_POSITIVE, SDXL_NEGATIVE)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=1024, height=1024, batch_size=1)
    first = g.add(names.KSAMPLER_NODE_ID, (XC, 120), title="KSampler (ER-SDE): base pass",
                  model=ckpt["MODEL"], seed=SEED, steps=25, cfg=6.0, scheduler="karras",
                  positive=pos["CONDITIONING"], negative=neg["CONDITIONING"], latent_image=latent["LATENT"],
                  denoise=1.0, **ER_SDE_DEFAULTS)
    dec1 = g.add("VAEDecode", (XC, 600), size=(210, 46), samples=first[names.OUT_LATENT], vae=ckpt["VAE"])
    preview = g.add("PreviewImage", (XC, 700), size=(320, 340), images=dec1["IMAGE"])
    up = g.add("LatentUpscaleBy", (XD, 120), size=(320, 82), samples=first[names.OUT_LATENT],
               upscale_method="nearest-exact", scale_by=1.5)
    second = g.add(names.KSAMPLER_NODE_ID, (XD, 280), title="KSampler (ER-SDE): second pass",
                   model=ckpt["MODEL"], seed=SEED, steps=20, cfg=6.0, scheduler="karras",
                   positive=pos["CONDITIONING"], negative=neg["CONDITIONING"], latent_image=up["LATENT"],
                   denoise=0.5, **ER_SDE_DEFAULTS)
    dec2 = g.add("VAEDecode", (XE, 120), size=(210, 46), samples=second[names.OUT_LATENT], vae=ckpt["VAE"])
    save = g.add("SaveImage", (XE, 220), size=(460, 500), images=dec2["IMAGE"],
                 filename_prefix="ER-SDE/sdxl_two_pass")
    g.note((XA, 300), (440, 400), _download(SDXL_CKPT, SDXL_URL, "SDXL base 1.0") + SETTINGS +
           "\n\nSecond pass: the base latent is upscaled 1.5x (1536x1536) and refined at denoise 0.5 "
           "(0.4-0.6 keeps the composition and adds detail).",
           title="Read me: SDXL two-pass with ER-SDE")
    g.group("Base pass, 1024x1024", first, dec1, preview)
    g.group("Upscale 1.5x, 2nd pass", up, second)
    return g


CFG_PP_SETTINGS = (
    "Settings that suit ER-SDE-Solver with CFG++:\n"
    "- sampler_name er_sde_solver_3_cfg_pp (also _1_cfg_pp, _2_cfg_pp)\n"
    "- cfg much LOWER than usual: about 0.5-2, not 5-8. CFG++ guides far more strongly at the same\n"
    "  number: cfg g acts like plain CFG at about 2 g at 10 steps, 3.5 g at 20 steps, 8 g at 50 steps\n"
    "- scheduler: karras; steps: 20-30\n"
    "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore"
)


def sdxl_txt2img_ksampler_cfg_pp() -> Graph:
    g = Graph("sdxl_txt2img_ksampler_er_sde_solver_3_cfg_pp",
              "SDXL base text to image at 1024x1024, stock KSampler with er_sde_solver_3_cfg_pp (CFG++)")
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(SDXL_CKPT, SDXL_URL),
                 ckpt_name=SDXL_CKPT)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, SDXL_POSITIVE, SDXL_NEGATIVE)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=1024, height=1024, batch_size=1)
    ks = g.add("KSampler", (XC, 120), size=(320, 262), model=ckpt["MODEL"], seed=SEED, steps=25, cfg=1.5,
               sampler_name=names.CFG_PP_SAMPLER_NAME_BY_ORDER[3], scheduler="karras", positive=pos["CONDITIONING"],
               negative=neg["CONDITIONING"], latent_image=latent["LATENT"], denoise=1.0)
    dec = g.add("VAEDecode", (XD, 120), size=(210, 46), samples=ks["LATENT"], vae=ckpt["VAE"])
    save = g.add("SaveImage", (XD, 220), size=(440, 480), images=dec["IMAGE"],
                 filename_prefix="ER-SDE/sdxl_txt2img_cfg_pp")
    g.note((XA, 300), (440, 360), _download(SDXL_CKPT, SDXL_URL, "SDXL base 1.0") + CFG_PP_SETTINGS +
           "\n\nCFG++ keeps the guided prediction as each step's data term and re-noises along the "
           "unconditional model's noise.",
           title="Read me: ER-SDE-Solver 3 with CFG++ (SDXL)")
    g.group("Prompt", pos, neg, latent)
    g.group("Sample with er_sde_solver_3_cfg_pp, cfg 1.5", ks)
    return g


AUTO_SETTINGS = (
    "ER-SDE-Solver Auto (sampler_name er_sde_solver_auto) picks the order and scheme that measured\n"
    "best for the cfg this KSampler applies and its step count: keep your usual cfg and steps.\n"
    "- scheduler: karras or exponential; steps: 20-30 (one model call a step)\n"
    "- cfg as usual for the model (SD1.5 about 7, SDXL about 5-7)\n"
    "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore\n"
    "What it picks for each cfg and step count, and how to reproduce a choice with the\n"
    "KSampler (ER-SDE) node's order and scheme inputs: docs/guidance.md#er-sde-solver-auto"
)


def _ksampler_auto(name: str, title: str, ckpt_name: str, url: str, model: str, positive: str, negative: str,
                   size: int, steps: int, cfg: float) -> Graph:
    g = Graph(name, title)
    ckpt = g.add("CheckpointLoaderSimple", (XA + 60, 120), size=(320, 98), properties=_models(ckpt_name, url),
                 ckpt_name=ckpt_name)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 120, positive, negative)
    latent = g.add("EmptyLatentImage", (XB + 50, 540), width=size, height=size, batch_size=1)
    ks = g.add("KSampler", (XC, 120), size=(320, 262), model=ckpt["MODEL"], seed=SEED, steps=steps, cfg=cfg,
               sampler_name=names.AUTO_SAMPLER_NAME, scheduler="karras", positive=pos["CONDITIONING"],
               negative=neg["CONDITIONING"], latent_image=latent["LATENT"], denoise=1.0)
    dec = g.add("VAEDecode", (XD, 120), size=(210, 46), samples=ks["LATENT"], vae=ckpt["VAE"])
    g.add("SaveImage", (XD, 220), size=(440, 480), images=dec["IMAGE"], filename_prefix=f"ER-SDE/{name}")
    g.note((XA, 300), (440, 360), _download(ckpt_name, url, model) + AUTO_SETTINGS,
           title="Read me: ER-SDE-Solver Auto with the stock KSampler")
    g.group("Prompt", pos, neg, latent)
    g.group(f"Sample with er_sde_solver_auto, cfg {cfg:g}, {steps} steps", ks)
    return g


def sd15_txt2img_ksampler_auto() -> Graph:  # added in 0.3.0
    return _ksampler_auto("sd15_txt2img_ksampler_er_sde_solver_auto",
                          "SD1.5 text to image, stock KSampler with er_sde_solver_auto (512x512, cfg 7, 20 steps)",
                          SD15_CKPT, SD15_URL, "Stable Diffusion 1.5", SD15_POSITIVE, SD15_NEGATIVE, 512, 20, 7.0)


def sdxl_txt2img_ksampler_auto() -> Graph:  # added in 0.3.0
    return _ksampler_auto("sdxl_txt2img_ksampler_er_sde_solver_auto",
                          "SDXL base text to image, stock KSampler with er_sde_solver_auto (1024x1024, cfg 6.5, "
                          "25 steps)", SDXL_CKPT, SDXL_URL, "SDXL base 1.0", SDXL_POSITIVE, SDXL_NEGATIVE,
                          1024, 25, 6.5)


# --------------------------------------------------------------------------------------
# Flow-matching models (added in 0.3.0), loaded from split files as in ComfyUI's own examples. One sampler name
# for all of them: er_sde_solver_auto picks order and scheme from the cfg the KSampler applies
# (the README's decision table), so cfg 1 (Flux dev) and cfg 2.5-5 each get their row.
FLOW_SAMPLER = names.AUTO_SAMPLER_NAME


@dataclass(frozen=True)
class ModelFile:
    name: str
    folder: str  # the folder under ComfyUI/models/ where the loader looks
    url: str
    what: str

    def property(self) -> dict[str, Any]:
        """The frontend's "models" entry: it offers the download when the file is missing."""
        return {"name": self.name, "url": self.url + "?download=true", "directory": self.folder}


def _files_note(files: tuple[ModelFile, ...], extra: str = "") -> str:
    lines = ["Download these files and put each in its folder under ComfyUI/models/ "
             "(then press R to refresh the lists):\n"]
    for f in files:
        lines.append(f"- {f.what}: {f.name}\n  into models/{f.folder}/ from\n  {f.url}\n")
    return "\n".join(lines) + extra


FLUX_DEV_UNET = ModelFile("flux1-dev.safetensors", "diffusion_models",
                          "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors",
                          "Flux.1 dev model (gated: accept the license on its Hugging Face page first)")
FLUX_CLIP_L = ModelFile("clip_l.safetensors", "text_encoders",
                        "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors",
                        "CLIP-L text encoder")
FLUX_T5 = ModelFile("t5xxl_fp16.safetensors", "text_encoders",
                    "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors",
                    "T5-XXL text encoder (t5xxl_fp8_e4m3fn.safetensors there needs less memory)")
FLUX_VAE = ModelFile("ae.safetensors", "vae",
                     "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/ae.safetensors",
                     "Flux VAE (the same for dev and schnell)")
SD35_CKPT = ModelFile("sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors", "checkpoints",
                      "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/"
                      "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors",
                      "SD3.5 Medium checkpoint with its text encoders (CLIP-L, CLIP-G, T5-XXL fp8) and VAE")
WAN22_UNET = ModelFile("wan2.2_ti2v_5B_fp16.safetensors", "diffusion_models",
                       "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/"
                       "diffusion_models/wan2.2_ti2v_5B_fp16.safetensors", "Wan 2.2 TI2V 5B model")
WAN_UMT5 = ModelFile("umt5_xxl_fp8_e4m3fn_scaled.safetensors", "text_encoders",
                     "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/"
                     "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors", "umT5-XXL text encoder")
WAN22_VAE = ModelFile("wan2.2_vae.safetensors", "vae",
                      "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/vae/"
                      "wan2.2_vae.safetensors", "Wan 2.2 VAE (the 5B model's; the 14B models use Wan 2.1's)")
QWEN_UNET = ModelFile("qwen_image_fp8_e4m3fn.safetensors", "diffusion_models",
                      "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/"
                      "diffusion_models/qwen_image_fp8_e4m3fn.safetensors", "Qwen-Image model")
QWEN_TE = ModelFile("qwen_2.5_vl_7b_fp8_scaled.safetensors", "text_encoders",
                    "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/"
                    "text_encoders/qwen_2.5_vl_7b_fp8_scaled.safetensors", "Qwen2.5-VL 7B text encoder")
QWEN_VAE = ModelFile("qwen_image_vae.safetensors", "vae",
                     "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/"
                     "qwen_image_vae.safetensors", "Qwen-Image VAE")

FLOW_SETTINGS = (
    "\n\nSettings that suit ER-SDE-Solver on flow models:\n"
    "- scheduler: simple (or beta); steps: 20-30 (one model call a step)\n"
    f"- sampler_name {FLOW_SAMPLER}: it picks order and scheme from the cfg (er_sde_solver_3 works too)\n"
    "- the model's own shift and cfg\n"
    "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore"
)
FLUX_POSITIVE = ("a cozy reading nook in a sunlit attic, rain on the skylight, a cat asleep on a knitted blanket, "
                 "warm film photograph")
SD35_POSITIVE = ("a glass terrarium on a wooden desk holding a tiny mossy mountain with a waterfall, "
                 "macro photograph, soft window light")
SD35_NEGATIVE = "blurry, lowres, watermark, text, deformed"
WAN_POSITIVE = ("a paper boat drifts down a rain-soaked street at dusk, neon reflections ripple on the water, "
                "slow tracking shot, cinematic")
WAN_NEGATIVE = "static, blurry, low quality, watermark, text, distorted"
QWEN_POSITIVE = ('a vintage travel poster of a mountain railway, bold flat colors, the title "ER-SDE EXPRESS" '
                 "in art deco lettering")
QWEN_NEGATIVE = ""


def _loader(g: Graph, type_: str, pos, files: tuple[ModelFile, ...], **values) -> Node:
    return g.add(type_, pos, size=(360, 58 + 24 * len(values)), properties={"models": [f.property() for f in files]},
                 **values)


def _flow_ksampler(g: Graph, model: Out, positive: Out, negative: Out, latent: Out, steps: int,
                   cfg: float) -> Node:
    """The stock KSampler of the flow-model graphs: FLOW_SAMPLER, scheduler simple, full denoise."""
    return g.add("KSampler", (XC, 100), size=(320, 262), model=model, seed=SEED, steps=steps, cfg=cfg,
                 sampler_name=FLOW_SAMPLER, scheduler="simple", positive=positive, negative=negative,
                 latent_image=latent, denoise=1.0)


def flux_dev_txt2img() -> Graph:
    g = Graph("flux1_dev_txt2img_ksampler_er_sde",
              f"Flux.1 dev text to image at 1024x1024: cfg 1 with FluxGuidance 3.5, {FLOW_SAMPLER}, 20 steps")
    unet = _loader(g, "UNETLoader", (XA + 60, 100), (FLUX_DEV_UNET,), unet_name=FLUX_DEV_UNET.name,
                   weight_dtype="default")
    clip = _loader(g, "DualCLIPLoader", (XA + 60, 270), (FLUX_CLIP_L, FLUX_T5), clip_name1=FLUX_CLIP_L.name,
                   clip_name2=FLUX_T5.name, type="flux", device="default")
    vae = _loader(g, "VAELoader", (XA + 60, 490), (FLUX_VAE,), vae_name=FLUX_VAE.name)
    pos = g.add("CLIPTextEncode", (XB, 100), size=(420, 170), title="Prompt", text=FLUX_POSITIVE, clip=clip["CLIP"])
    guidance = g.add("FluxGuidance", (XB, 330), size=(320, 58), conditioning=pos["CONDITIONING"], guidance=3.5)
    neg = g.add("ConditioningZeroOut", (XB, 440), size=(320, 26), title="No negative (cfg 1)",
                conditioning=pos["CONDITIONING"])
    latent = g.add("EmptySD3LatentImage", (XB, 530), width=1024, height=1024, batch_size=1)
    ks = _flow_ksampler(g, unet["MODEL"], guidance["CONDITIONING"], neg["CONDITIONING"], latent["LATENT"],
                        steps=20, cfg=1.0)
    dec = g.add("VAEDecode", (XD, 100), size=(210, 46), samples=ks["LATENT"], vae=vae["VAE"])
    g.add("SaveImage", (XD, 200), size=(440, 480), images=dec["IMAGE"], filename_prefix="ER-SDE/flux1_dev")
    g.note((XA, 620), (460, 520), _files_note((FLUX_DEV_UNET, FLUX_CLIP_L, FLUX_T5, FLUX_VAE)) + FLOW_SETTINGS +
           "\n\nFlux dev is guidance-distilled: keep the KSampler's cfg at 1 and steer with FluxGuidance "
           "(about 3.5; 2-2.5 for photographs).", title="Read me: Flux.1 dev with ER-SDE-Solver")
    g.group("Prompt, guidance 3.5", pos, guidance, neg, latent)
    g.group("ER-SDE auto, cfg 1", ks)
    return g


def sd35_txt2img() -> Graph:
    g = Graph("sd35_medium_txt2img_ksampler_er_sde",
              f"SD3.5 Medium text to image at 1024x1024: shift 3, cfg 4.5, {FLOW_SAMPLER}, 40 steps")
    ckpt = _loader(g, "CheckpointLoaderSimple", (XA + 60, 100), (SD35_CKPT,), ckpt_name=SD35_CKPT.name)
    shift = g.add("ModelSamplingSD3", (XC, 450), size=(320, 58), model=ckpt["MODEL"], shift=3.0)
    pos, neg = _prompt_nodes(g, ckpt["CLIP"], XB, 100, SD35_POSITIVE, SD35_NEGATIVE)
    latent = g.add("EmptySD3LatentImage", (XB + 50, 520), width=1024, height=1024, batch_size=1)
    ks = _flow_ksampler(g, shift["MODEL"], pos["CONDITIONING"], neg["CONDITIONING"], latent["LATENT"],
                        steps=40, cfg=4.5)
    dec = g.add("VAEDecode", (XD, 100), size=(210, 46), samples=ks["LATENT"], vae=ckpt["VAE"])
    g.add("SaveImage", (XD, 200), size=(440, 480), images=dec["IMAGE"], filename_prefix="ER-SDE/sd35_medium")
    g.note((XA, 280), (460, 440), _files_note((SD35_CKPT,)) + FLOW_SETTINGS +
           "\n\nSD3.5 Medium: ModelSamplingSD3 shift 3 (the model's own), cfg 4.5, 40 steps. "
           "SD3.5 Large runs in this graph too (28 steps, cfg 3.5-4.5); its checkpoint may need its text "
           "encoders from a TripleCLIPLoader.", title="Read me: SD3.5 Medium with ER-SDE-Solver")
    g.group("Prompt", pos, neg, latent)
    g.group("ER-SDE auto, shift 3, cfg 4.5", ks, shift)
    return g


def wan22_t2v() -> Graph:
    g = Graph("wan22_5b_t2v_ksampler_er_sde",
              f"Wan 2.2 TI2V 5B text to video, 1280x704, 121 frames at 24 fps: shift 8, cfg 5, {FLOW_SAMPLER}")
    unet = _loader(g, "UNETLoader", (XA + 60, 100), (WAN22_UNET,), unet_name=WAN22_UNET.name, weight_dtype="default")
    shift = g.add("ModelSamplingSD3", (XC, 450), size=(320, 58), model=unet["MODEL"], shift=8.0)
    clip = _loader(g, "CLIPLoader", (XA + 60, 270), (WAN_UMT5,), clip_name=WAN_UMT5.name, type="wan",
                   device="default")
    vae = _loader(g, "VAELoader", (XA + 60, 470), (WAN22_VAE,), vae_name=WAN22_VAE.name)
    pos, neg = _prompt_nodes(g, clip["CLIP"], XB, 100, WAN_POSITIVE, WAN_NEGATIVE)
    latent = g.add("Wan22ImageToVideoLatent", (XB + 50, 520), size=(320, 170), vae=vae["VAE"], width=1280,
                   height=704, length=121, batch_size=1)
    ks = _flow_ksampler(g, shift["MODEL"], pos["CONDITIONING"], neg["CONDITIONING"], latent["LATENT"],
                        steps=20, cfg=5.0)
    dec = g.add("VAEDecode", (XD, 100), size=(210, 46), samples=ks["LATENT"], vae=vae["VAE"])
    video = g.add("CreateVideo", (XD, 200), size=(270, 78), images=dec["IMAGE"], fps=24.0)
    g.add("SaveVideo", (XD, 330), size=(440, 420), video=video["VIDEO"], filename_prefix="ER-SDE/wan22_t2v",
          format="auto", codec="auto")
    g.note((XA, 620), (460, 500), _files_note((WAN22_UNET, WAN_UMT5, WAN22_VAE)) + FLOW_SETTINGS +
           "\n\nWan 2.2 5B: ModelSamplingSD3 shift 8, cfg 5, 24 fps; length = 4 k + 1 frames. "
           "Connect an image to the latent node's start_image for image to video.",
           title="Read me: Wan 2.2 5B text to video with ER-SDE-Solver")
    g.group("Prompt, 121 frames", pos, neg, latent)
    g.group("ER-SDE auto, shift 8, cfg 5", ks, shift)
    return g


def qwen_image_txt2img() -> Graph:
    g = Graph("qwen_image_txt2img_ksampler_er_sde",
              f"Qwen-Image text to image at 1328x1328: shift 3.1, cfg 2.5, {FLOW_SAMPLER}, 20 steps")
    unet = _loader(g, "UNETLoader", (XA + 60, 100), (QWEN_UNET,), unet_name=QWEN_UNET.name, weight_dtype="default")
    shift = g.add("ModelSamplingAuraFlow", (XC, 450), size=(320, 58), model=unet["MODEL"], shift=3.1)
    clip = _loader(g, "CLIPLoader", (XA + 60, 270), (QWEN_TE,), clip_name=QWEN_TE.name, type="qwen_image",
                   device="default")
    vae = _loader(g, "VAELoader", (XA + 60, 470), (QWEN_VAE,), vae_name=QWEN_VAE.name)
    pos, neg = _prompt_nodes(g, clip["CLIP"], XB, 100, QWEN_POSITIVE, QWEN_NEGATIVE)
    latent = g.add("EmptySD3LatentImage", (XB + 50, 520), width=1328, height=1328, batch_size=1)
    ks = _flow_ksampler(g, shift["MODEL"], pos["CONDITIONING"], neg["CONDITIONING"], latent["LATENT"],
                        steps=20, cfg=2.5)
    dec = g.add("VAEDecode", (XD, 100), size=(210, 46), samples=ks["LATENT"], vae=vae["VAE"])
    g.add("SaveImage", (XD, 200), size=(440, 480), images=dec["IMAGE"], filename_prefix="ER-SDE/qwen_image")
    g.note((XA, 620), (460, 470), _files_note((QWEN_UNET, QWEN_TE, QWEN_VAE)) + FLOW_SETTINGS +
           "\n\nQwen-Image: ModelSamplingAuraFlow shift 3.1, cfg 2.5-4, 1328x1328 (or 1664x928, 928x1664).",
           title="Read me: Qwen-Image with ER-SDE-Solver")
    g.group("Prompt", pos, neg, latent)
    g.group("ER-SDE auto, shift 3.1, cfg 2.5", ks, shift)
    return g


# --------------------------------------------------------------------------------------
# 2026's most used image models (added in 0.3.0), as ComfyUI 0.33's own templates load them
# (comfyui_workflow_templates: image_z_image_turbo, image_flux2_text_to_image).

# The Z-Image Turbo graph's sampler name (its note line below says why). Z-Image Turbo is distilled
# to 8-9 steps at cfg 1; in the few-step benchmark (docs/benchmarks.md#few-steps-without-guidance-
# distilled-models, cfg 1, 4-10 NFE) auto (order 2 with the corrector at cfg 1 and up to 11 steps)
# is the best of our names from 6 steps and ties the best stock samplers on the flow model at 6-10.
ZIMAGE_TURBO_SAMPLER = names.AUTO_SAMPLER_NAME
ZIMAGE_TURBO_SAMPLER_NOTE = (f"- sampler_name {ZIMAGE_TURBO_SAMPLER}: at cfg 1 and 8 steps it runs order 2 with the "
                             "corrector, the best of our names at 6-10 steps without guidance in our benchmarks (none of "
                             "them is a distilled model: compare with euler, the model's own sampler)")

ZIMAGE_TURBO_UNET = ModelFile("z_image_turbo_bf16.safetensors", "diffusion_models",
                              "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/"
                              "diffusion_models/z_image_turbo_bf16.safetensors", "Z-Image Turbo model")
ZIMAGE_QWEN3 = ModelFile("qwen_3_4b.safetensors", "text_encoders",
                         "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/"
                         "text_encoders/qwen_3_4b.safetensors", "Qwen3 4B text encoder")
ZIMAGE_VAE = ModelFile("ae.safetensors", "vae",
                       "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/vae/ae.safetensors",
                       "Flux VAE (the same ae.safetensors as Flux.1's)")
FLUX2_DEV_UNET = ModelFile("flux2_dev_fp8mixed.safetensors", "diffusion_models",
                           "https://huggingface.co/Comfy-Org/flux2-dev/resolve/main/split_files/"
                           "diffusion_models/flux2_dev_fp8mixed.safetensors",
                           "Flux.2 dev model (fp8 mixed precision, as in ComfyUI's own example)")
FLUX2_MISTRAL = ModelFile("mistral_3_small_flux2_bf16.safetensors", "text_encoders",
                          "https://huggingface.co/Comfy-Org/flux2-dev/resolve/main/split_files/"
                          "text_encoders/mistral_3_small_flux2_bf16.safetensors",
                          "Mistral Small 3 text encoder (mistral_3_small_flux2_fp8.safetensors there needs "
                          "less memory)")
FLUX2_VAE = ModelFile("flux2-vae.safetensors", "vae",
                      "https://huggingface.co/Comfy-Org/flux2-dev/resolve/main/split_files/vae/flux2-vae.safetensors",
                      "Flux.2 VAE")
ZIMAGE_POSITIVE = ("a lantern-lit night market in the rain, steam rising from a noodle stall, reflections on "
                   "wet cobblestones, candid street photograph")
FLUX2_POSITIVE = ('a hand-painted shop sign reading "ER-SDE BAKERY" above a window full of croissants, '
                  "morning light, shallow depth of field, 35mm photograph")
NEWER_COMFYUI = ("\n\nNeeds a ComfyUI that knows {model} (0.3.64 does not; checked with 0.33): update "
                 "ComfyUI if the loader cannot detect the model or a node is missing.")


def zimage_turbo_txt2img() -> Graph:
    g = Graph("zimage_turbo_txt2img_ksampler_er_sde",
              f"Z-Image Turbo text to image at 1024x1024: shift 3, cfg 1, {ZIMAGE_TURBO_SAMPLER}, 8 steps",
              host_models=("ZImage",))
    unet = _loader(g, "UNETLoader", (XA + 60, 100), (ZIMAGE_TURBO_UNET,), unet_name=ZIMAGE_TURBO_UNET.name,
                   weight_dtype="default")
    shift = g.add("ModelSamplingAuraFlow", (XC, 450), size=(320, 58), model=unet["MODEL"], shift=3.0)
    clip = _loader(g, "CLIPLoader", (XA + 60, 270), (ZIMAGE_QWEN3,), clip_name=ZIMAGE_QWEN3.name, type="lumina2",
                   device="default")
    vae = _loader(g, "VAELoader", (XA + 60, 470), (ZIMAGE_VAE,), vae_name=ZIMAGE_VAE.name)
    pos = g.add("CLIPTextEncode", (XB, 100), size=(420, 170), title="Prompt", text=ZIMAGE_POSITIVE, clip=clip["CLIP"])
    neg = g.add("ConditioningZeroOut", (XB, 330), size=(320, 26), title="No negative (cfg 1)",
                conditioning=pos["CONDITIONING"])
    latent = g.add("EmptySD3LatentImage", (XB, 430), width=1024, height=1024, batch_size=1)
    ks = g.add("KSampler", (XC, 100), size=(320, 262), model=shift["MODEL"], seed=SEED, steps=8, cfg=1.0,
               sampler_name=ZIMAGE_TURBO_SAMPLER, scheduler="simple", positive=pos["CONDITIONING"],
               negative=neg["CONDITIONING"], latent_image=latent["LATENT"], denoise=1.0)
    dec = g.add("VAEDecode", (XD, 100), size=(210, 46), samples=ks["LATENT"], vae=vae["VAE"])
    g.add("SaveImage", (XD, 200), size=(440, 480), images=dec["IMAGE"], filename_prefix="ER-SDE/zimage_turbo")
    g.note((XA, 620), (460, 420), _files_note((ZIMAGE_TURBO_UNET, ZIMAGE_QWEN3, ZIMAGE_VAE)) +
           "\n\nSettings for Z-Image Turbo with ER-SDE-Solver (a distilled model: few steps, no cfg):\n"
           "- steps 8 (8-9), cfg 1, scheduler simple, ModelSamplingAuraFlow shift 3, as in ComfyUI's own example\n"
           f"{ZIMAGE_TURBO_SAMPLER_NOTE}\n"
           "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore" +
           NEWER_COMFYUI.format(model="Z-Image"),
           title="Read me: Z-Image Turbo with ER-SDE-Solver")
    g.group("Prompt", pos, neg, latent)
    g.group("ER-SDE, shift 3, cfg 1, 8 steps", ks, shift)
    return g


def flux2_dev_txt2img() -> Graph:
    g = Graph("flux2_dev_txt2img_sampler_custom_advanced_er_sde",
              f"Flux.2 dev text to image at 1024x1024: FluxGuidance 4, Flux2Scheduler, {FLOW_SAMPLER}, 20 steps",
              host_models=("Flux2",))
    unet = _loader(g, "UNETLoader", (XA + 60, 100), (FLUX2_DEV_UNET,), unet_name=FLUX2_DEV_UNET.name,
                   weight_dtype="default")
    clip = _loader(g, "CLIPLoader", (XA + 60, 270), (FLUX2_MISTRAL,), clip_name=FLUX2_MISTRAL.name, type="flux2",
                   device="default")
    vae = _loader(g, "VAELoader", (XA + 60, 470), (FLUX2_VAE,), vae_name=FLUX2_VAE.name)
    pos = g.add("CLIPTextEncode", (XB, 100), size=(420, 170), title="Prompt", text=FLUX2_POSITIVE, clip=clip["CLIP"])
    guidance = g.add("FluxGuidance", (XB, 330), size=(320, 58), conditioning=pos["CONDITIONING"], guidance=4.0)
    latent = g.add("EmptyFlux2LatentImage", (XB, 450), width=1024, height=1024, batch_size=1)
    noise = g.add("RandomNoise", (XC, 100), noise_seed=SEED)
    guider = g.add("BasicGuider", (XC, 230), model=unet["MODEL"], conditioning=guidance["CONDITIONING"])
    sampler = g.add("KSamplerSelect", (XC, 350), sampler_name=FLOW_SAMPLER)
    sigmas = g.add("Flux2Scheduler", (XC, 470), steps=20, width=1024, height=1024)
    adv = g.add("SamplerCustomAdvanced", (XD, 100), size=(260, 110), noise=noise["NOISE"], guider=guider["GUIDER"],
                sampler=sampler["SAMPLER"], sigmas=sigmas["SIGMAS"], latent_image=latent["LATENT"])
    dec = g.add("VAEDecode", (XD, 270), size=(210, 46), samples=adv["output"], vae=vae["VAE"])
    g.add("SaveImage", (XD, 370), size=(440, 480), images=dec["IMAGE"], filename_prefix="ER-SDE/flux2_dev")
    g.note((XA, 620), (460, 440), _files_note((FLUX2_DEV_UNET, FLUX2_MISTRAL, FLUX2_VAE)) +
           "\n\nSettings for Flux.2 dev with ER-SDE-Solver, as in ComfyUI's own example:\n"
           "- FluxGuidance 4 and BasicGuider (no cfg: Flux.2 dev is guidance-distilled, the guider's cfg is 1)\n"
           "- Flux2Scheduler: 20 steps, its shift from the image size (keep its width and height equal to "
           "the latent's)\n"
           f"- KSamplerSelect {FLOW_SAMPLER}: it picks order and scheme from the cfg (1 here) and the step "
           "count (er_sde_solver_3 works too)\n"
           "- seed set to 'fixed' so that the example reproduces; switch to 'randomize' to explore" +
           NEWER_COMFYUI.format(model="Flux.2"),
           title="Read me: Flux.2 dev with ER-SDE-Solver")
    g.group("Prompt, guidance 4", pos, guidance, latent)
    g.group("ER-SDE auto, Flux2Scheduler, 20 steps", noise, guider, sampler, sigmas)
    return g


WORKFLOWS = (sd15_txt2img_ksampler, sd15_custom_advanced, sdxl_txt2img_ksampler_ersde, sdxl_two_pass,
             sdxl_txt2img_ksampler_cfg_pp, sd15_txt2img_ksampler_auto, sdxl_txt2img_ksampler_auto,
             flux_dev_txt2img, sd35_txt2img, wan22_t2v, qwen_image_txt2img, zimage_turbo_txt2img,
             flux2_dev_txt2img)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def host_models() -> dict[str, tuple[str, ...]]:
    """File name (workflows/<name>.json, also its API twin and frozen copies) -> the
    comfy.supported_models classes its model files need, for the graphs that name some."""
    return {f"{g.name}.json": g.host_models for g in (build() for build in WORKFLOWS) if g.host_models}


def outputs() -> dict[Path, str]:
    """Every file this script writes, path -> text."""
    files: dict[Path, str] = {}
    for build in WORKFLOWS:
        g = build()
        files[HERE / f"{g.name}.json"] = dumps(g.to_ui())
        files[HERE / "api" / f"{g.name}.json"] = dumps(g.to_api())
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the committed files are current")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(("stale: " if args.check else "wrote: ") + str(path.relative_to(REPO)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
