"""bitnet.convert() and bitnet.quantize(): Hugging Face checkpoints to GGUF, and GGUF between the
ternary types (bitnet_convert / bitnet_quantize in bitnet.h)."""

from __future__ import annotations

import os
from ctypes import byref
from typing import Callable, Optional, Union

from . import _ffi
from ._core import _check
from ._ffi import lib

__all__ = ["convert", "quantize"]

_TERNARY = {"auto": 0, "i2_s": 1, "tq2_0": 2, "tq1_0": 3}
_EMBD = {"auto": 0, "f16": 1, "bf16": 2, "f32": 3, "q8_0": 4, "q6_k": 5}

# progress(i, n, tensor_name, bytes_written); raising inside it stops the conversion and the
# exception is re-raised by convert()/quantize().
Progress = Callable[[int, int, str, int], None]


def _params(type: str, embd_type: str, name: Optional[str]):
    if type not in _TERNARY:
        raise ValueError(f"type must be one of {sorted(_TERNARY)}, not {type!r}")
    if embd_type not in _EMBD:
        raise ValueError(f"embd_type must be one of {sorted(_EMBD)}, not {embd_type!r}")
    p = lib().bitnet_convert_default_params()
    p.ternary_type = _TERNARY[type]
    p.embd_type = _EMBD[embd_type]
    p.name = name.encode() if name is not None else None
    return p


def _run(fn, src, dst, params, progress: Optional[Progress]) -> None:
    error = []

    def trampoline(i, n, tensor, nbytes, _ud):
        try:
            progress(i, n, tensor.decode("utf-8", "replace"), nbytes)
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised below
            error.append(e)
            return 1

    cb = _ffi.ConvertProgress(trampoline) if progress else _ffi.ConvertProgress()
    st = fn(os.fsencode(src), os.fsencode(dst), byref(params), cb, None)
    if error:
        raise error[0]
    _check(st)


def convert(src_dir: Union[str, os.PathLike], dst_path: Union[str, os.PathLike], *,
            type: str = "auto", embd_type: str = "auto", name: Optional[str] = None,
            progress: Optional[Progress] = None) -> None:
    """Converts a Hugging Face model folder (config.json, *.safetensors, tokenizer.json) to GGUF.

    type: ternary weights, "auto" (I2_S for bitnet-b1.58, TQ2_0 otherwise), "i2_s", "tq2_0",
    "tq1_0"; embd_type: embedding/LM head, "auto" (F16), "f16", "bf16", "f32", "q8_0", "q6_k"; name:
    general.name (default: the folder's name). Raises BitnetError (status and message naming the
    file and field) on failure; no output file is left behind.
    """
    _run(lib().bitnet_convert, src_dir, dst_path, _params(type, embd_type, name), progress)


def quantize(src_path: Union[str, os.PathLike], dst_path: Union[str, os.PathLike], *,
             type: str = "auto", embd_type: str = "auto",
             progress: Optional[Progress] = None) -> None:
    """Rewrites a GGUF with its ternary tensors in another ternary type (exactly: the same trits
    and scales, else BitnetError UNSUPPORTED) and/or its embedding/head in another float type
    ("auto" keeps what the file has)."""
    _run(lib().bitnet_quantize, src_path, dst_path, _params(type, embd_type, None), progress)
