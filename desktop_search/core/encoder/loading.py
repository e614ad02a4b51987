"""Getting a loaded model ready to encode: the device it runs on (CUDA, Apple's MPS or the CPU) and the
optional int8 quantisation with a fidelity check.

The device is a setting (``Settings.device``: auto | cpu | cuda | mps). ``auto`` takes CUDA, then MPS,
then the CPU. Asking for a device this machine does not have is not an error: encoding falls back to
the CPU and :attr:`DeviceChoice.note` says why in one line (``status`` shows it), so an index that was
set up on a machine with a GPU keeps working when it is opened without one (a laptop off its dock).
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from typing import Any

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class DeviceChoice:
    name: str  # the torch device the model runs on: cpu | cuda | mps
    note: str | None = None  # why it is not the one asked for (None when it is)


def _no_gpu_here() -> bool:
    """True when this machine surely has no GPU torch could use, found without importing torch (seconds
    on a busy laptop: ``status`` asks before any model is loaded): Linux without an NVIDIA driver (no
    /proc/driver/nvidia, no /dev/nvidia0, no WSL GPU /dev/dxg), Windows without nvcuda.dll. Anything
    else (macOS, a driver present) is left to torch."""
    if "torch" in sys.modules:
        return False
    if sys.platform.startswith("linux"):
        return not any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidia0", "/dev/dxg"))
    if sys.platform == "win32":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is None
    return False


@functools.cache
def _cuda_state() -> tuple[bool, str]:
    if _no_gpu_here():
        return False, "no NVIDIA GPU or driver found"
    import torch

    if torch.version.cuda is None:
        return False, "this torch build has no CUDA support"
    try:
        if torch.cuda.is_available():
            return True, ""
    except Exception as exc:  # a broken driver install raises instead of answering
        return False, f"CUDA does not start ({type(exc).__name__})"
    return False, "no NVIDIA GPU or driver found"


@functools.cache
def _mps_state() -> tuple[bool, str]:
    if sys.platform != "darwin":
        return False, "MPS is Apple's GPU (macOS only)"
    import torch

    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_built():
        return False, "this torch build has no MPS support"
    if not mps.is_available():
        return False, "no Apple GPU found (MPS needs a Mac with Apple silicon and macOS 12.3+)"
    return True, ""


def choose_device(setting: str | None, cuda: tuple[bool, str] | None = None,
                  mps: tuple[bool, str] | None = None) -> DeviceChoice:
    """The device for ``setting`` on this machine. ``cuda``/``mps`` ((usable, why not)) replace the
    probes of this machine, for tests."""
    want = (setting or "auto").strip().lower()
    if want == "cpu":
        return DeviceChoice("cpu")
    cuda = _cuda_state() if cuda is None and want in ("auto", "cuda") else cuda
    mps = _mps_state() if mps is None and want in ("auto", "mps") else mps
    if want == "auto":
        if cuda is not None and cuda[0]:
            return DeviceChoice("cuda")
        if mps is not None and mps[0]:
            return DeviceChoice("mps")
        return DeviceChoice("cpu")
    if want == "cuda":
        assert cuda is not None
        return DeviceChoice("cuda") if cuda[0] else DeviceChoice("cpu", f"device cuda is not usable here "
                                                                      f"({cuda[1]}); encoding on the CPU")
    if want == "mps":
        assert mps is not None
        return DeviceChoice("mps") if mps[0] else DeviceChoice("cpu", f"device mps is not usable here "
                                                                    f"({mps[1]}); encoding on the CPU")
    return DeviceChoice("cpu", f"device {setting!r} is not one of {', '.join(DEVICES)}; encoding on the CPU")


def is_quantized(model: Any) -> bool:
    """Whether ``model`` holds int8 dynamic-quantised layers (they run on the CPU only)."""
    return str(getattr(model, "desktop_search_quantize_note", "")).startswith("int8 linear")


def move_to_device(model: Any, choice: DeviceChoice) -> tuple[Any, DeviceChoice]:
    """``model`` on the chosen device; an int8 model, or a move that fails (out of device memory, a
    driver error), stays on the CPU with a note saying why."""
    if choice.name == "cpu":
        return model, choice
    if is_quantized(model):
        return model, DeviceChoice("cpu", f"the int8 model runs on the CPU only; not using {choice.name}")
    try:
        return model.to(choice.name), choice
    except Exception as exc:  # RuntimeError (out of memory, no kernel image for this GPU), ...
        model.to("cpu")
        return model, DeviceChoice("cpu", f"could not move the model to {choice.name} "
                                          f"({type(exc).__name__}); encoding on the CPU")


# --- int8 ----------------------------------------------------------------------------------------------
PROBE_TEXT = (
    "Invoices must be paid within thirty days. The train to Berlin leaves from platform four at noon. "
    "Photosynthesis converts light into chemical energy; volcanoes erupt when magma rises through the crust."
)


def quantize_if_close(model: Any, min_cosine: float = 0.99, probe: str = PROBE_TEXT) -> tuple[Any, str]:
    """int8 dynamic quantisation of the Linear layers, kept only if every probe token vector stays within
    ``min_cosine`` of fp32. Returns (model to use, one-line note)."""
    import copy
    import warnings

    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError:
        return model, "int8 unavailable in this torch; using fp32"
    features = model.tokenize([probe], is_query=False)
    with torch.inference_mode():
        ref = model(dict(features))["token_embeddings"].float()
        try:
            with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice
                warnings.simplefilter("ignore", DeprecationWarning)
                quantized = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
            got = quantized(dict(features))["token_embeddings"].float()
        except Exception as exc:  # no int8 engine on this CPU, an unsupported layer, ...
            return model, f"int8 failed ({type(exc).__name__}); using fp32"
    cosine = float(torch.nn.functional.cosine_similarity(ref, got, dim=-1).min())
    if cosine < min_cosine:
        return model, f"int8 token cosine {cosine:.4f} < {min_cosine}; using fp32"
    return quantized, f"int8 linear layers (min token cosine {cosine:.4f})"
