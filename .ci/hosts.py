"""CI, part 2: the host test suites against scratch copies of the host snapshots in ../shared/hosts.

    python3 .ci/hosts.py [host ...]      # default: every host in HOSTS whose snapshot is there

For each host: copy the read-only snapshot to a scratch folder (hosts write into custom_nodes/,
extensions/, models/), make a venv that sees the packages of the interpreter running this script
(its torch, the test extra: --system-site-packages and RUNNING_SITE_PTH, in a venv or not), pip-install
the host's requirements file without the torch lines (and without lines that are not PyPI
packages), then run the host's pytest suites, each in its own pytest process (hosts change global
import state). The installs run in parallel; the suites one at a time, each host's once its venv
is ready. Prints the time of every part and the pass counts per host; exits non-zero when any
install or suite fails. Work folder: $ERSDE_CI_WORK, default .ci/work (git-ignored).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(os.environ.get("ERSDE_HOST_SNAPSHOTS", REPO.parent / "shared" / "hosts"))
WORK = Path(os.environ.get("ERSDE_CI_WORK", REPO / ".ci" / "work"))

# host -> (requirements file in the snapshot, env var the suites read, suites: (paths, extra env))
# ERSDE_E2E=1 opts the workflows suite into its end-to-end run (an SD1.5 graph on a started server).
HOSTS: dict[str, tuple[str, str, list[tuple[list[str], dict[str, str]]]]] = {
    "comfyui": ("requirements.txt", "COMFYUI_DIR", [(["tests/comfyui"], {}), (["tests/workflows"], {"ERSDE_E2E": "1"})]),
    # ComfyUI 0.33 (2026-08): users run both versions, so both run every ComfyUI suite
    "comfyui-2026-08": ("requirements.txt", "COMFYUI_DIR",
                        [(["tests/comfyui"], {}), (["tests/workflows"], {"ERSDE_E2E": "1"})]),
    "forge": ("requirements_versions.txt", "WEBUI_DIR", [(["tests/webui"], {})]),
    "a1111": ("requirements_versions.txt", "WEBUI_DIR", [(["tests/webui"], {})]),
    "reforge": ("requirements_versions.txt", "WEBUI_DIR", [(["tests/webui"], {})]),
    "sdnext": ("requirements.txt", "SDNEXT_DIR", [(["tests/sdnext"], {})]),
}
# The system's torch serves every host; these lines would replace it (or add CUDA builds).
TORCH_LINES = re.compile(r"^(torch|torchvision|torchaudio|xformers)\s*([=<>~!].*)?$", re.I)
# torch needs setuptools >= 77, the WebUIs pin 69.5.1 "for some old packages"; the system's
# setuptools (< 81, which still has pkg_resources) serves both.
SYSTEM_LINES = re.compile(r"^setuptools\s*([=<>~!].*)?$", re.I)
# SD.Next's lint tools (its requirements.txt "# lint" group): not needed to run it.
SKIP_LINES = {"sdnext": re.compile(r"^(ruff|pylint|pre-commit)\s*([=<>~!].*)?$", re.I)}
# Host requirements that are not PyPI packages, replaced by the PyPI release of the same version.
PYPI_SUBSTITUTES = {
    # reForge pins a wheel of its pydantic fork on GitHub; PyPI has the same release of pydantic.
    "https://github.com/Panchovix/pydantic-fixreforge/releases/download/main_v1/pydantic-1.10.15-py3-none-any.whl":
        "pydantic==1.10.15",
}
# PyPI code that a WebUI's sampler path imports but its requirements file leaves to its launcher,
# which git-clones it at first launch (CI cannot reach GitHub). A1111 and reForge import `ldm` from
# Stability-AI's stablediffusion repository: stable-diffusion-sdkit is that code on PyPI (a slightly
# older revision; the SD1 classes the tests use are the same). Installed without its dependencies,
# whose old pins would replace the host's; the host's requirements cover what `ldm` imports.
# k_diffusion (A1111's repositories/k-diffusion) is PyPI k-diffusion, from the test extra.
# Forge clones lllyasviel/huggingface_guess at 8482624: PyPI huggingface-guess 0.1.0 is that commit.
NO_DEPS_EXTRA = {
    "forge": ["huggingface-guess==0.1.0"],
    "a1111": ["stable-diffusion-sdkit==2.1.5"],
    "reforge": ["stable-diffusion-sdkit==2.1.5"],
    # SD.Next's installer installs these without their dependencies (gradio 3's pins clash with its own)
    "sdnext": ["gradio==3.43.2", "gradio-client==0.5.0", "compel==2.4.0"],
}
# Hosts that import torchaudio at start-up (its requirements line is dropped with the torch lines)
NEEDS_TORCHAUDIO = {"comfyui-2026-08"}

# Packages a launcher installs itself, outside its requirements file, installed with the requirements
# (one resolve). SD.Next's installer.py pins diffusers and transformers to git commits (CI cannot
# reach GitHub): diffusers 01969142 is 0.39.0.dev0 (2026-06-29), the main branch on its way to
# 0.39.0, the nearest PyPI release holding that code; transformers b70d02fc is 5.13.0.dev0
# (2026-07-03), PyPI 5.13.0, with the tokenizers it pins. Its install_gradio() installs gradio
# (every module imports it) without dependencies (NO_DEPS_EXTRA) and then the packages it lists;
# install_opencv / install_scipy (Python < 3.14) / install_pydantic pin the last three.
LAUNCHER_EXTRA = {
    "sdnext": ["diffusers==0.39.0", "transformers==5.13.0", "tokenizers==0.22.2", "aiofiles", "ffmpy", "pydub",
               "uvicorn", "semantic-version", "altair", "python-multipart", "matplotlib", "importlib-resources",
               "opencv-python-headless==4.13.0.92", "scipy==1.14.1", "pydantic==2.13.4"],
}


def log(message: str) -> None:
    print(f"[hosts] {message}", flush=True)


def pypi_requirements(host: str, requirements: Path) -> list[str]:
    lines = []
    for raw in requirements.read_text(encoding="utf8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or TORCH_LINES.match(line) or SYSTEM_LINES.match(line):
            continue
        if host in SKIP_LINES and SKIP_LINES[host].match(line):
            continue
        if "://" in line:
            if line not in PYPI_SUBSTITUTES:
                raise SystemExit(f"{host}: {requirements.name} names {line}, which is not on PyPI; "
                                 "add a PyPI substitute to PYPI_SUBSTITUTES in .ci/hosts.py")
            line = PYPI_SUBSTITUTES[line]
        lines.append(line)
    return lines + LAUNCHER_EXTRA.get(host, [])


def torchaudio_for_torch() -> str:
    """The torchaudio release for the running torch: the same minor version where PyPI has one, else
    the newest release before it (torchaudio went into maintenance after 2.11: none exists for torch
    2.12-2.14). Installed without dependencies so that it never replaces the torch every host shares;
    ComfyUI 0.33 imports it at start-up (comfy/sd.py's audio VAEs) and uses its pure-Python parts."""
    import importlib.metadata
    major, minor = (int(part) for part in importlib.metadata.version("torch").split(".")[:2])
    return f"torchaudio<={major}.{minor}.99"


def torch_constraint() -> str:
    import importlib.metadata
    return f"torch=={importlib.metadata.version('torch')}"


# A venv made with --system-site-packages sees the *base* interpreter's site-packages, even when
# `python -m venv` runs inside another venv. This file, in the host venv's own site-packages, adds
# the site directories of the interpreter running this script (an active venv, the user site), with
# their own .pth files (editable installs), after the host venv's packages and before the base's:
# what .ci/run installed (k-diffusion, clip, torch) is seen whether it ran in a venv or not.
RUNNING_SITE_PTH = "ersde-ci-running-site.pth"


def running_site_dirs() -> list[str]:
    import site
    dirs = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []  # the user site first, as python does
    dirs += site.getsitepackages()
    return [d for d in dirs if os.path.isdir(d)]


def see_running_environment(python: Path) -> Path:
    """Write RUNNING_SITE_PTH into the venv of `python`; returns its path."""
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    pth = Path(purelib) / RUNNING_SITE_PTH
    pth.write_text("".join(f"import site; site.addsitedir({d!r})\n" for d in running_site_dirs()))
    return pth


def setup(host: str) -> tuple[Path, Path]:
    """Scratch copy and venv of one host; returns (host dir, venv python)."""
    requirements_name = HOSTS[host][0]
    host_dir = WORK / "hosts" / host
    if host_dir.exists():
        shutil.rmtree(host_dir)
    host_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SNAPSHOTS / host, host_dir, symlinks=True)
    for path in host_dir.rglob("*"):  # the snapshot is read-only; the copy must be writable
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    host_dir.chmod(host_dir.stat().st_mode | 0o200)

    venv = WORK / f"venv-{host}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    see_running_environment(python)
    requirements = WORK / f"requirements-{host}.txt"
    requirements.write_text("\n".join(pypi_requirements(host, SNAPSHOTS / host / requirements_name)) + "\n")
    constraints = WORK / f"constraints-{host}.txt"
    constraints.write_text(torch_constraint() + "\n")
    # pytest and the test extra from the running environment; the host's pins win inside the venv.
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(requirements), "-c", str(constraints)], check=True)
    no_deps = NO_DEPS_EXTRA.get(host, []) + ([torchaudio_for_torch()] if host in NEEDS_TORCHAUDIO else [])
    if no_deps:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        *no_deps], check=True)
    return host_dir, python


# pytest's last line: "57 passed in 559.18s" with -q, "==== 3 failed, 54 passed in 9.1s ====" without
SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s")


def run_suite(host: str, python: Path, host_dir: Path, paths: list[str],
              extra_env: dict[str, str]) -> tuple[int, dict[str, int], float]:
    env = {**os.environ, HOSTS[host][1]: str(host_dir), "PYTHONPATH": str(REPO), "ERSDE_REQUIRE_HOST": "1",
           **extra_env}
    start = time.monotonic()
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
                         cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    took = time.monotonic() - start
    sys.stdout.write(run.stdout)
    counts: dict[str, int] = {}
    for line in reversed(run.stdout.splitlines()):
        match = SUMMARY.search(line)
        if match:
            for part in match.group(1).split(","):
                number, _, what = part.strip().partition(" ")
                if number.isdigit():
                    counts[what] = int(number)
            break
    return run.returncode, counts, took


def _timed_setup(host: str) -> tuple[Path, Path, float]:
    start = time.monotonic()
    host_dir, python = setup(host)
    return host_dir, python, time.monotonic() - start


def main(argv: list[str]) -> int:
    if not SNAPSHOTS.is_dir():
        log(f"no host snapshots at {SNAPSHOTS}: host suites skipped")
        return 0
    hosts = argv or [h for h in HOSTS if (SNAPSHOTS / h).is_dir()]
    missing = [h for h in HOSTS if not (SNAPSHOTS / h).is_dir()]
    if missing:
        log(f"snapshots missing for {', '.join(missing)}: those suites are not run")
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    table, failed = [], False
    # The installs (mostly download and unpacking) run side by side and beside the suites; the
    # suites run one at a time, each host's as soon as its venv is ready.
    log(f"setting up {', '.join(hosts)}: scratch copies and venvs, installs in parallel")
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        setups = {host: pool.submit(_timed_setup, host) for host in hosts}
        for host in hosts:
            try:
                host_dir, python, took = setups[host].result()
            except (subprocess.CalledProcessError, SystemExit) as error:
                log(f"{host}: setup FAILED: {error}")
                table.append((host, "setup (parallel)", 1, {}, 0.0))
                failed = True
                continue
            table.append((host, "setup (parallel)", 0, {}, took))
            log(f"{host}: setup took {took:.0f} s")
            for paths, extra_env in HOSTS[host][2]:
                log(f"{host}: pytest {' '.join(paths)}")
                rc, counts, took = run_suite(host, python, host_dir, paths, extra_env)
                table.append((host, " ".join(paths), rc, counts, took))
                failed = failed or rc != 0
                log(f"{host}: pytest {' '.join(paths)} exit {rc} in {took:.0f} s: {counts}")
    log("summary (setups overlap each other and the suites)")
    for host, part, rc, counts, took in table:
        what = ", ".join(f"{n} {k}" for k, n in counts.items()) or ("ok" if rc == 0 else "FAILED")
        log(f"  {host:8s} {part:18s} {took:6.0f} s  exit {rc}  {what}")
    log(f"  host part wall time {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
