"""ctypes declarations of the libbitnet C API (include/bitnet.h) and the library lookup.

Every struct below mirrors the header field for field; ctypes applies the same natural alignment
as the C compiler, so the sizes match (the tests check them against the `size` the library's
*_default_params() functions and result structs report).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

__all__ = ["lib", "library_path", "load_library", "LibraryNotFoundError"]

# ---- opaque handles --------------------------------------------------------------------------


class _Model(Structure):
    pass


class _Context(Structure):
    pass


class _Sampler(Structure):
    pass


ModelP = POINTER(_Model)
ContextP = POINTER(_Context)
SamplerP = POINTER(_Sampler)

bitnet_token = c_int32
bitnet_status = c_int  # a C enum

# ---- parameter and result structs (same order and types as bitnet.h) -------------------------


class ModelParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("use_mmap", c_int),
        ("lm_head_type", c_int),
        ("repack", c_int),
    ]


class ContextParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("n_ctx", c_uint32),
        ("n_threads", c_int32),
        ("n_batch", c_int32),
        ("seed", c_uint64),
        ("kv_type", c_int),
        ("n_seq_max", c_uint32),
        ("embeddings", c_int),
        ("pooling_type", c_int),
        ("embd_normalize", c_int),
        ("device", c_int),
    ]


class SamplingParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("temperature", c_float),
        ("top_k", c_int32),
        ("top_p", c_float),
        ("min_p", c_float),
        ("repeat_penalty", c_float),
        ("repeat_last_n", c_int32),
        ("seed", c_uint64),
    ]


class GenerateParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("max_tokens", c_int32),
        ("sampling", POINTER(SamplingParams)),  # NULL: the defaults
        ("add_bos", c_int),
        ("parse_special", c_int),
        ("render_special", c_int),
    ]


class GenerateResult(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("n_prompt_tokens", c_int32),
        ("n_generated", c_int32),
        ("prompt_ms", c_double),
        ("generate_ms", c_double),
        ("prompt_tokens_per_s", c_double),
        ("generate_tokens_per_s", c_double),
        ("stop_reason", c_int),
        ("last_token", c_int32),
    ]


class ChatMessage(Structure):
    _fields_ = [
        ("role", c_char_p),
        ("content", c_char_p),
    ]


class PerplexityResult(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("ppl", c_double),
        ("ppl_stderr", c_double),
        ("nll_mean", c_double),
        ("n_chunks", c_int32),
        ("n_scored", c_int32),
        ("n_tokens", c_int32),
    ]


class BenchParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("n_prompt", c_int32),
        ("n_gen", c_int32),
        ("repetitions", c_int32),
        ("warmup", c_int32),
        ("n_parallel", c_int32),
    ]


class BenchResult(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("pp_mean", c_double),
        ("pp_stddev", c_double),
        ("pp_median", c_double),
        ("pp_best", c_double),
        ("tg_mean", c_double),
        ("tg_stddev", c_double),
        ("tg_median", c_double),
        ("tg_best", c_double),
        ("n_threads", c_int32),
    ]


class ConvertParams(Structure):
    _fields_ = [
        ("size", c_size_t),
        ("ternary_type", c_int),
        ("embd_type", c_int),
        ("name", c_char_p),
    ]


ConvertProgress = CFUNCTYPE(c_int, c_int32, c_int32, c_char_p, c_uint64, c_void_p)

PieceCallback = CFUNCTYPE(c_int, POINTER(c_char), c_size_t, bitnet_token, c_void_p)
PerplexityCallback = CFUNCTYPE(c_int, c_int32, c_double, c_void_p)

# name: (restype, argtypes)
_PROTOTYPES = {
    "bitnet_version": (c_char_p, []),
    "bitnet_version_number": (c_int, []),
    "bitnet_status_string": (c_char_p, [bitnet_status]),
    "bitnet_last_error_message": (c_char_p, []),
    # conversion
    "bitnet_convert_default_params": (ConvertParams, []),
    "bitnet_convert": (bitnet_status, [c_char_p, c_char_p, POINTER(ConvertParams), ConvertProgress, c_void_p]),
    "bitnet_quantize": (bitnet_status, [c_char_p, c_char_p, POINTER(ConvertParams), ConvertProgress, c_void_p]),
    # model
    "bitnet_model_default_params": (ModelParams, []),
    "bitnet_model_load": (bitnet_status, [c_char_p, POINTER(ModelParams), POINTER(ModelP)]),
    "bitnet_model_free": (None, [ModelP]),
    "bitnet_model_n_vocab": (c_int32, [ModelP]),
    "bitnet_model_n_ctx_train": (c_int32, [ModelP]),
    "bitnet_model_n_embd": (c_int32, [ModelP]),
    "bitnet_model_n_layer": (c_int32, [ModelP]),
    "bitnet_model_n_head": (c_int32, [ModelP]),
    "bitnet_model_n_head_kv": (c_int32, [ModelP]),
    "bitnet_model_size_bytes": (c_uint64, [ModelP]),
    "bitnet_model_n_params": (c_uint64, [ModelP]),
    "bitnet_model_architecture": (c_char_p, [ModelP]),
    "bitnet_model_meta_count": (c_int32, [ModelP]),
    "bitnet_model_meta_key": (
        bitnet_status, [ModelP, c_int32, c_char_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_model_meta_get": (
        bitnet_status, [ModelP, c_char_p, c_char_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_token_bos": (bitnet_token, [ModelP]),
    "bitnet_token_eos": (bitnet_token, [ModelP]),
    "bitnet_token_eot": (bitnet_token, [ModelP]),
    "bitnet_token_is_eog": (c_int, [ModelP, bitnet_token]),
    "bitnet_model_add_bos": (c_int, [ModelP]),
    # tokenizer
    "bitnet_tokenize": (
        bitnet_status,
        [ModelP, c_char_p, c_size_t, c_int, c_int, POINTER(bitnet_token), c_size_t,
         POINTER(c_size_t)]),
    "bitnet_token_to_piece": (
        bitnet_status, [ModelP, bitnet_token, c_int, c_char_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_detokenize": (
        bitnet_status,
        [ModelP, POINTER(bitnet_token), c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)]),
    # context
    "bitnet_context_default_params": (ContextParams, []),
    "bitnet_context_new": (bitnet_status, [ModelP, POINTER(ContextParams), POINTER(ContextP)]),
    "bitnet_context_free": (None, [ContextP]),
    "bitnet_context_reset": (bitnet_status, [ContextP]),
    "bitnet_context_n_ctx": (c_uint32, [ContextP]),
    "bitnet_context_n_past": (c_uint32, [ContextP]),
    "bitnet_context_n_threads": (c_int32, [ContextP]),
    "bitnet_context_abort": (None, [ContextP]),
    "bitnet_eval": (bitnet_status, [ContextP, POINTER(bitnet_token), c_size_t, c_int]),
    "bitnet_get_logits": (POINTER(c_float), [ContextP, c_int32]),
    "bitnet_n_logits": (c_int32, [ContextP]),
    # sampling
    "bitnet_sampling_default_params": (SamplingParams, []),
    "bitnet_sampler_new": (bitnet_status, [POINTER(SamplingParams), POINTER(SamplerP)]),
    "bitnet_sampler_free": (None, [SamplerP]),
    "bitnet_sampler_sample": (
        bitnet_status, [SamplerP, POINTER(c_float), c_int32, POINTER(bitnet_token)]),
    "bitnet_sampler_accept": (bitnet_status, [SamplerP, bitnet_token]),
    "bitnet_sampler_reset": (bitnet_status, [SamplerP]),
    # generation
    "bitnet_generate_default_params": (GenerateParams, []),
    "bitnet_generate": (
        bitnet_status,
        [ContextP, c_char_p, c_size_t, POINTER(GenerateParams), PieceCallback, c_void_p,
         POINTER(GenerateResult)]),
    "bitnet_generate_tokens": (
        bitnet_status,
        [ContextP, POINTER(bitnet_token), c_size_t, POINTER(GenerateParams), PieceCallback,
         c_void_p, POINTER(GenerateResult)]),
    # chat, perplexity, bench
    "bitnet_chat_format": (
        bitnet_status,
        [POINTER(ChatMessage), c_size_t, c_int, c_char_p, c_size_t, POINTER(c_size_t)]),
    "bitnet_perplexity": (
        bitnet_status,
        [ContextP, c_char_p, c_size_t, c_int32, c_int32, PerplexityCallback, c_void_p,
         POINTER(PerplexityResult)]),
    "bitnet_bench_default_params": (BenchParams, []),
    "bitnet_bench": (bitnet_status, [ContextP, POINTER(BenchParams), POINTER(BenchResult)]),
}


class LibraryNotFoundError(OSError):
    """libbitnet could not be loaded from any of the places searched (see .tried)."""

    def __init__(self, tried):
        self.tried = list(tried)
        lines = "\n".join(f"  {where}: {why}" for where, why in self.tried)
        super().__init__(
            "cannot load libbitnet; set BITNET_LIBRARY to the path of libbitnet.so. Tried:\n"
            + lines)


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def _source_tree_root():
    """The repository root if this package runs from its source tree, else None."""
    root = _package_dir().parents[2]  # <repo>/bindings/python/bitnet
    if (root / "include" / "bitnet.h").is_file() and (
            root / "bindings" / "python" / "pyproject.toml").is_file():
        return root
    return None


def _candidates():
    """(description, path-or-name) in lookup order."""
    env = os.environ.get("BITNET_LIBRARY")
    if env:
        yield "BITNET_LIBRARY", env
        return  # an explicit choice must not silently fall back to another library
    pkg = _package_dir()
    bundled = sorted(pkg.glob("libbitnet.so*")) + sorted(pkg.glob("libbitnet*.dylib")) + sorted(
        pkg.glob("bitnet.dll"))
    for p in bundled:
        yield "next to the package", str(p)
    if not bundled:
        yield "next to the package", str(pkg / "libbitnet.so")
    root = _source_tree_root()
    if root is not None:
        yield "build tree", str(root / "build" / "libbitnet.so")
    found = ctypes.util.find_library("bitnet")
    if found:
        yield "ctypes.util.find_library('bitnet')", found
    name = {"darwin": "libbitnet.0.dylib", "win32": "bitnet.dll"}.get(sys.platform,
                                                                       "libbitnet.so.0")
    yield "system search path", name


_lock = threading.Lock()
_lib = None
_lib_path = None


def _declare(cdll):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(cdll, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return cdll


def load_library(path=None):
    """Loads libbitnet (once per process) and returns the ctypes.CDLL.

    path: explicit library path; otherwise the lookup order is: $BITNET_LIBRARY, a libbitnet.so*
    next to this package, <repo>/build/libbitnet.so when running from the source tree, then
    ctypes.util.find_library("bitnet") and "libbitnet.so.0" on the system search path.
    """
    global _lib, _lib_path
    with _lock:
        if _lib is not None and path is None:
            return _lib
        candidates = [("argument", os.fspath(path))] if path is not None else list(_candidates())
        tried = []
        for where, cand in candidates:
            is_path = os.sep in cand or (os.altsep and os.altsep in cand)
            if is_path and not os.path.exists(cand):
                tried.append((f"{where} {cand}", "no such file"))
                continue
            try:
                cdll = ctypes.CDLL(cand)
            except OSError as e:
                tried.append((f"{where} {cand}", str(e)))
                continue
            try:
                _declare(cdll)
            except AttributeError as e:
                tried.append((f"{where} {cand}", f"not a compatible libbitnet ({e})"))
                continue
            _lib, _lib_path = cdll, cand
            return cdll
        raise LibraryNotFoundError(tried)


def lib():
    """The loaded library (loading it on first use)."""
    return _lib if _lib is not None else load_library()


def library_path():
    """Path or name of the loaded library (loads it if needed)."""
    lib()
    return _lib_path
