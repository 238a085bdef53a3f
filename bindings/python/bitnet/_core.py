"""Pythonic wrappers over the libbitnet C API: Model, Context, Generation, chat_format."""

from __future__ import annotations

import array
import codecs
import ctypes
import enum
import os
import threading
from ctypes import byref, c_size_t
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from . import _ffi
from ._ffi import lib

__all__ = [
    "BitnetError", "Status", "Model", "Context", "Generation", "PerplexityResult", "BenchResult",
    "chat_format", "version", "version_number",
]


# ---- errors -------------------------------------------------------------------------------


class Status(enum.IntEnum):
    """bitnet_status: the values of the C enum, without the BITNET_ERR_ prefix."""

    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    BAD_FORMAT = 3
    UNSUPPORTED = 4
    OUT_OF_MEMORY = 5
    CONTEXT_FULL = 6
    ABORTED = 7
    BUFFER_TOO_SMALL = 8
    NOT_FOUND = 9
    INTERNAL = 10


class BitnetError(Exception):
    """A libbitnet call failed.

    .status   a Status (an int: e.status == 2, e.status.name == "IO"); unknown codes stay int
    .message  the library's message (bitnet_last_error_message) or the binding's own
    """

    def __init__(self, status: int, message: str = ""):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message or _status_string(int(status))
        name = status.name if isinstance(status, Status) else str(int(status))
        super().__init__(f"{self.message} [{name}]")

    @property
    def status_name(self) -> str:
        return self.status.name if isinstance(self.status, Status) else str(int(self.status))


def _status_string(status: int) -> str:
    try:
        return lib().bitnet_status_string(status).decode("utf-8", "replace")
    except Exception:  # the library itself may be missing
        return f"status {status}"


def _check(status: int) -> None:
    if status != 0:
        msg = lib().bitnet_last_error_message()
        raise BitnetError(status, msg.decode("utf-8", "replace") if msg else "")


def _closed(what: str) -> BitnetError:
    return BitnetError(Status.INVALID_ARGUMENT, f"the {what} has been closed")


def _grow(call, size: int, make):
    """Calls call(buf, size, byref(needed)) growing buf while BUFFER_TOO_SMALL; returns (buf, n)."""
    needed = c_size_t(0)
    for _ in range(8):
        buf = make(size)
        st = call(buf, size, byref(needed))
        if st == Status.BUFFER_TOO_SMALL and needed.value > size:
            size = needed.value
            continue
        _check(st)
        return buf, needed.value
    raise BitnetError(Status.INTERNAL, "the size the library asks for keeps changing")


def version() -> str:
    """Run-time version string of the loaded libbitnet, e.g. "0.2.0"."""
    return lib().bitnet_version().decode()


def version_number() -> int:
    """Run-time version as major*10000 + minor*100 + patch."""
    return lib().bitnet_version_number()


# ---- chat ---------------------------------------------------------------------------------


def chat_format(messages: Iterable[Union[Mapping[str, str], Sequence[str]]],
                add_generation_prompt: bool = True) -> str:
    """Renders chat messages in the BitNet b1.58 2B4T training format.

    messages: {"role": ..., "content": ...} mappings or (role, content) pairs; role is "system",
    "user" or "assistant". The result has no BOS: generate() adds it and parses "<|eot_id|>".
    """
    encoded = []
    for m in messages:
        if isinstance(m, Mapping):
            role, content = m["role"], m["content"]
        else:
            role, content = m
        encoded.append((str(role).encode("utf-8"), str(content).encode("utf-8")))
    arr = (_ffi.ChatMessage * max(1, len(encoded)))()
    for i, (r, c) in enumerate(encoded):
        arr[i].role = r
        arr[i].content = c
    L = lib()
    buf, n = _grow(
        lambda b, size, needed: L.bitnet_chat_format(arr, len(encoded),
                                                     1 if add_generation_prompt else 0, b, size,
                                                     needed),
        256 + sum(len(r) + len(c) + 16 for r, c in encoded), ctypes.create_string_buffer)
    return buf.raw[:max(0, n - 1)].decode("utf-8", "replace")


# ---- model --------------------------------------------------------------------------------

_LM_HEAD = {"auto": 0, "f16": 1, "q8": 2, "q4": 3}
_KV = {"f16": 0, "f32": 1}
_LOGITS = {"none": 0, "last": 1, "all": 2}

TextLike = Union[str, bytes]


def _text_bytes(text: TextLike) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"expected str or bytes, not {type(text).__name__}")


def _tokenize(h, data: bytes, add_bos: bool, parse_special: bool) -> List[int]:
    L = lib()
    buf, n = _grow(
        lambda b, size, nd: L.bitnet_tokenize(h, data, len(data), 1 if add_bos else 0,
                                              1 if parse_special else 0, b, size, nd),
        len(data) + 2, lambda size: (_ffi.bitnet_token * size)())
    return list(buf[:n])


def _token_array(ids: Iterable[int]):
    ids = list(ids)
    return (_ffi.bitnet_token * len(ids))(*ids), len(ids)


class Model:
    """A loaded GGUF model (weights + vocabulary). Immutable and safe to share between threads.

    Model(path, use_mmap=True, lm_head="auto", repack=True)   lm_head: "auto", "f16", "q8" or "q4";
    repack: reorder the I2_S weight blocks at load time for faster decode (same results)

    Use it as a context manager or call close(). Contexts keep the native model alive: closing
    the Model makes this object unusable, the memory goes when its last Context is closed too.
    """

    def __init__(self, path: Union[str, os.PathLike], use_mmap: bool = True,
                 lm_head: Union[str, int] = "auto", repack: bool = True):
        self._handle = None
        self._closed = True
        self._users = 0
        self._lock = threading.Lock()
        L = lib()
        params = L.bitnet_model_default_params()
        params.use_mmap = 1 if use_mmap else 0
        params.repack = 1 if repack else 0
        if isinstance(lm_head, str):
            if lm_head.lower() not in _LM_HEAD:
                raise BitnetError(Status.INVALID_ARGUMENT,
                                  f"lm_head must be one of {sorted(_LM_HEAD)}, not {lm_head!r}")
            params.lm_head_type = _LM_HEAD[lm_head.lower()]
        else:
            params.lm_head_type = int(lm_head)
        handle = _ffi.ModelP()
        self.path = os.fspath(path)
        _check(L.bitnet_model_load(os.fsencode(self.path), byref(params), byref(handle)))
        self._handle = handle
        self._closed = False
        self._pieces = {}
        self._metadata = None
        self._n_vocab: int = L.bitnet_model_n_vocab(handle)

    # -- lifetime --

    def close(self) -> None:
        """Releases the model (idempotent). Open contexts keep the native model alive."""
        with self._lock:
            self._closed = True
        self._release()

    def _release(self) -> None:
        with self._lock:
            if not (self._closed and self._users == 0 and self._handle):
                return
            handle, self._handle = self._handle, None
        lib().bitnet_model_free(handle)

    def __enter__(self) -> "Model":
        self._live()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    def _live(self):
        if self._closed:
            raise _closed("Model")
        return self._handle

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"n_vocab={self._n_vocab}"
        return f"<bitnet.Model {self.path!r} {state}>"

    # -- hyper-parameters --

    @property
    def n_vocab(self) -> int:
        """Vocabulary size (number of token ids)."""
        self._live()
        return self._n_vocab

    @property
    def n_ctx_train(self) -> int:
        return lib().bitnet_model_n_ctx_train(self._live())

    @property
    def n_embd(self) -> int:
        return lib().bitnet_model_n_embd(self._live())

    @property
    def n_layer(self) -> int:
        return lib().bitnet_model_n_layer(self._live())

    @property
    def n_head(self) -> int:
        return lib().bitnet_model_n_head(self._live())

    @property
    def n_head_kv(self) -> int:
        return lib().bitnet_model_n_head_kv(self._live())

    @property
    def size_bytes(self) -> int:
        return lib().bitnet_model_size_bytes(self._live())

    @property
    def n_params(self) -> int:
        return lib().bitnet_model_n_params(self._live())

    @property
    def architecture(self) -> str:
        return lib().bitnet_model_architecture(self._live()).decode("utf-8", "replace")

    @staticmethod
    def _opt_token(t: int) -> Optional[int]:
        return None if t < 0 else t

    @property
    def bos(self) -> Optional[int]:
        """BOS token id, or None."""
        return self._opt_token(lib().bitnet_token_bos(self._live()))

    @property
    def eos(self) -> Optional[int]:
        return self._opt_token(lib().bitnet_token_eos(self._live()))

    @property
    def eot(self) -> Optional[int]:
        return self._opt_token(lib().bitnet_token_eot(self._live()))

    @property
    def add_bos(self) -> bool:
        return bool(lib().bitnet_model_add_bos(self._live()))

    def is_eog(self, token: int) -> bool:
        """True if generation stops at this token (EOS, EOT)."""
        return bool(lib().bitnet_token_is_eog(self._live(), token))

    # -- metadata --

    def meta(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """Metadata value as text (numbers in decimal, arrays as "[N items of TYPE]")."""
        h = self._live()
        L = lib()
        k = key.encode("utf-8")
        needed = c_size_t(0)
        st = L.bitnet_model_meta_get(h, k, None, 0, byref(needed))
        if st == Status.NOT_FOUND:
            return default
        if st not in (Status.OK, Status.BUFFER_TOO_SMALL):
            _check(st)
        buf, n = _grow(lambda b, size, nd: L.bitnet_model_meta_get(h, k, b, size, nd),
                       max(1, needed.value), ctypes.create_string_buffer)
        return buf.raw[:max(0, n - 1)].decode("utf-8", "replace")

    @property
    def metadata(self) -> dict:
        """All metadata as {key: text value} (a fresh dict)."""
        if self._metadata is None:
            h = self._live()
            L = lib()
            out = {}
            for i in range(L.bitnet_model_meta_count(h)):
                buf, n = _grow(lambda b, size, nd, i=i: L.bitnet_model_meta_key(h, i, b, size, nd),
                               64, ctypes.create_string_buffer)
                key = buf.raw[:max(0, n - 1)].decode("utf-8", "replace")
                out[key] = self.meta(key)
            self._metadata = out
        self._live()
        return dict(self._metadata)

    # -- tokenizer --

    def tokenize(self, text: TextLike, add_bos: bool = True, parse_special: bool = False) -> List[int]:
        """UTF-8 text (str or bytes) to token ids. add_bos: prepend BOS if the model uses one."""
        return _tokenize(self._live(), _text_bytes(text), add_bos, parse_special)

    def detokenize_bytes(self, ids: Iterable[int], render_special: bool = False) -> bytes:
        """The bytes of the concatenated pieces (may end inside a UTF-8 character)."""
        h = self._live()
        arr, n = _token_array(ids)
        L = lib()
        buf, nb = _grow(
            lambda b, size, nd: L.bitnet_detokenize(h, arr, n, 1 if render_special else 0, b,
                                                    size, nd),
            8 * n + 16, ctypes.create_string_buffer)
        return buf.raw[:nb]

    def detokenize(self, ids: Iterable[int], render_special: bool = False) -> str:
        """Token ids to text; invalid UTF-8 becomes U+FFFD."""
        return self.detokenize_bytes(ids, render_special).decode("utf-8", "replace")

    def token_to_piece(self, token: int, render_special: bool = False) -> bytes:
        """The bytes of one token (may be part of a multi-byte character, hence bytes)."""
        return self._piece(self._live(), token, render_special)

    def _piece(self, h, token: int, render_special: bool) -> bytes:
        key = (int(token), bool(render_special))
        piece = self._pieces.get(key)
        if piece is None:
            L = lib()
            buf, nb = _grow(
                lambda b, size, nd: L.bitnet_token_to_piece(h, key[0], 1 if key[1] else 0, b,
                                                            size, nd),
                32, ctypes.create_string_buffer)
            piece = buf.raw[:nb]
            self._pieces[key] = piece
        return piece

    # -- contexts --

    def context(self, n_ctx: int = 0, n_threads: int = 0, kv_type: str = "f16", seed: int = 0,
                n_batch: int = 0) -> "Context":
        """A new inference context (KV cache) for this model; see Context."""
        return Context(self, n_ctx=n_ctx, n_threads=n_threads, kv_type=kv_type, seed=seed,
                       n_batch=n_batch)


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerplexityResult:
    ppl: float
    ppl_stderr: float
    nll_mean: float
    n_chunks: int
    n_scored: int
    n_tokens: int


@dataclass(frozen=True)
class BenchResult:
    pp_mean: float
    pp_stddev: float
    pp_median: float
    pp_best: float
    tg_mean: float
    tg_stddev: float
    tg_median: float
    tg_best: float
    n_threads: int


# ---- context ------------------------------------------------------------------------------


class Context:
    """An inference state (KV cache, scratch, worker threads) of a Model. One thread at a time,
    except abort(), which any thread may call.

    kv_type: "f16" (default, as llama.cpp) or "f32" (exact keys and values).
    seed: default seed of generate() when it is given none.
    """

    def __init__(self, model: Model, n_ctx: int = 0, n_threads: int = 0, kv_type: str = "f16",
                 seed: int = 0, n_batch: int = 0):
        self._handle = None
        self._model = None
        mh = model._live()
        L = lib()
        params = L.bitnet_context_default_params()
        if isinstance(kv_type, str):
            if kv_type.lower() not in _KV:
                raise BitnetError(Status.INVALID_ARGUMENT,
                                  f"kv_type must be one of {sorted(_KV)}, not {kv_type!r}")
            params.kv_type = _KV[kv_type.lower()]
        else:
            params.kv_type = int(kv_type)
        for name, value in (("n_ctx", n_ctx), ("n_threads", n_threads), ("n_batch", n_batch)):
            lo, hi = (0, 2**32 - 1) if name == "n_ctx" else (-2**31, 2**31 - 1)
            if not lo <= int(value) <= hi:
                raise BitnetError(Status.INVALID_ARGUMENT, f"{name} {value} is out of range")
        if not 0 <= int(seed) < 2**64:
            raise BitnetError(Status.INVALID_ARGUMENT, f"seed {seed} is not a 64-bit unsigned int")
        params.n_ctx = int(n_ctx)
        params.n_threads = int(n_threads)
        params.n_batch = int(n_batch)
        params.seed = int(seed)
        self.seed = int(seed)
        handle = _ffi.ContextP()
        _check(L.bitnet_context_new(mh, byref(params), byref(handle)))
        with model._lock:
            model._users += 1
        self._model = model
        self._handle = handle

    # -- lifetime --

    def close(self) -> None:
        """Frees the context (idempotent)."""
        handle, self._handle = self._handle, None
        if handle:
            lib().bitnet_context_free(handle)
            model = self._model
            with model._lock:
                model._users -= 1
            model._release()

    def __enter__(self) -> "Context":
        self._live()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def closed(self) -> bool:
        return not self._handle

    def _live(self):
        h = self._handle
        if not h:
            raise _closed("Context")
        return h

    @property
    def model(self) -> Model:
        return self._model

    def __repr__(self) -> str:
        if not self._handle:
            return "<bitnet.Context closed>"
        return f"<bitnet.Context n_ctx={self.n_ctx} n_past={self.n_past}>"

    # -- state --

    @property
    def n_ctx(self) -> int:
        return lib().bitnet_context_n_ctx(self._live())

    @property
    def n_past(self) -> int:
        """Tokens in the KV cache (position of the next token)."""
        return lib().bitnet_context_n_past(self._live())

    @property
    def n_threads(self) -> int:
        return lib().bitnet_context_n_threads(self._live())

    def reset(self) -> None:
        """Empties the KV cache and clears the abort flag."""
        _check(lib().bitnet_context_reset(self._live()))

    def abort(self) -> None:
        """Makes the running (or next) eval/generation/bench/perplexity stop with ABORTED. Safe
        from any thread; a no-op on a closed context."""
        h = self._handle
        if h:
            lib().bitnet_context_abort(h)

    # -- evaluation --

    def _row(self, h, i: int, n_vocab: int) -> array.array:
        ptr = lib().bitnet_get_logits(h, i)
        if not ptr:
            raise BitnetError(Status.INVALID_ARGUMENT, f"no logits row {i}")
        return array.array("f", ctypes.string_at(ptr, 4 * n_vocab))

    def eval(self, ids: Iterable[int], logits: str = "last"):
        """Evaluates tokens after those in the KV cache.

        logits="last": array('f') of n_vocab floats; "all": a list with one such row per token;
        "none": None (only fills the KV cache).
        """
        h = self._live()
        if logits not in _LOGITS:
            raise BitnetError(Status.INVALID_ARGUMENT,
                              f"logits must be one of {sorted(_LOGITS)}, not {logits!r}")
        arr, n = _token_array(ids)
        _check(lib().bitnet_eval(h, arr, n, _LOGITS[logits]))
        if logits == "none":
            return None
        n_vocab = self._model._n_vocab
        if logits == "last":
            return self._row(h, -1, n_vocab)
        return [self._row(h, i, n_vocab) for i in range(lib().bitnet_n_logits(h))]

    def get_logits(self, i: int = -1) -> Optional[array.array]:
        """Row i (-1: last) of the last eval's logits, or None if there is no such row."""
        h = self._live()
        if not lib().bitnet_get_logits(h, i):
            return None
        return self._row(h, i, self._model._n_vocab)

    @property
    def n_logits(self) -> int:
        return lib().bitnet_n_logits(self._live())

    # -- generation --

    def generate(self, prompt: Union[TextLike, Sequence[int]], max_tokens: int = 128,
                 temperature: float = 0.8, top_k: int = 40, top_p: float = 0.95,
                 min_p: float = 0.05, repeat_penalty: float = 1.0, repeat_last_n: int = 64,
                 seed: Optional[int] = None, stop: Union[None, str, Sequence[str]] = None,
                 add_bos: bool = True, parse_special: bool = True,
                 render_special: bool = False) -> "Generation":
        """Streams generated text: an iterator of str pieces (see Generation).

        prompt: text (tokenized with BOS if the cache is empty and add_bos; "<|eot_id|>" etc.
        parsed if parse_special), or token ids (used as they are), or "" / [] to continue from
        the logits of the last eval. temperature <= 0 is greedy. seed None: the context's seed.
        stop: strings that end generation once the generated text contains one; the text from
        the stop string on is not yielded.
        """
        return Generation(self, prompt, max_tokens=max_tokens, temperature=temperature,
                          top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                          repeat_last_n=repeat_last_n, seed=self.seed if seed is None else seed,
                          stop=stop, add_bos=add_bos, parse_special=parse_special,
                          render_special=render_special)

    # -- perplexity and bench --

    def perplexity(self, text: TextLike, n_chunk: int = 0, max_chunks: int = 0,
                   callback=None) -> PerplexityResult:
        """llama.cpp-style perplexity of text (chunks of n_chunk tokens, 0 = n_ctx; the text
        needs at least 2*n_chunk tokens). callback(chunk, running_ppl) -> truthy stops. The
        context is reset afterwards."""
        h = self._live()
        data = _text_bytes(text)
        err = []

        def trampoline(chunk, ppl, _user):
            try:
                return 1 if callback(chunk, ppl) else 0
            except BaseException as e:  # noqa: BLE001 - re-raised below
                err.append(e)
                return 1

        cb = _ffi.PerplexityCallback(trampoline) if callback else _ffi.PerplexityCallback()
        res = _ffi.PerplexityResult()
        res.size = ctypes.sizeof(res)
        st = lib().bitnet_perplexity(h, data, len(data), int(n_chunk), int(max_chunks), cb, None,
                                     byref(res))
        if err:
            raise err[0]
        _check(st)
        return PerplexityResult(res.ppl, res.ppl_stderr, res.nll_mean, res.n_chunks,
                                res.n_scored, res.n_tokens)

    def bench(self, n_prompt: int = 512, n_gen: int = 128, repetitions: int = 5,
              warmup: bool = True) -> BenchResult:
        """llama-bench style pp/tg throughput in tokens/s. Resets the context."""
        h = self._live()
        L = lib()
        p = L.bitnet_bench_default_params()
        p.n_prompt, p.n_gen, p.repetitions = int(n_prompt), int(n_gen), int(repetitions)
        p.warmup = 1 if warmup else 0
        r = _ffi.BenchResult()
        r.size = ctypes.sizeof(r)
        _check(L.bitnet_bench(h, byref(p), byref(r)))
        return BenchResult(r.pp_mean, r.pp_stddev, r.pp_median, r.pp_best, r.tg_mean,
                           r.tg_stddev, r.tg_median, r.tg_best, r.n_threads)


# ---- generation ---------------------------------------------------------------------------

STOP_EOG = "eog"
STOP_MAX_TOKENS = "max_tokens"
STOP_STRING = "stop"


class Generation:
    """Iterator over the text pieces of one generation (Context.generate).

    Design: generation is driven token by token from Python (bitnet_eval + a bitnet_sampler,
    the same steps and the same sampler as bitnet_generate, so a seed gives the same tokens), not
    through bitnet_generate's callback. So there is no thread, pieces arrive as soon as they are
    decoded, breaking out of the loop stops at once, and stop strings are exact: text that could
    be the start of a stop string is held back until it is known not to be one.

    Pieces are whole characters (an incremental UTF-8 decoder, invalid bytes become U+FFFD), so
    "".join(pieces) == model.detokenize(gen.tokens) when no stop string ended the generation.

    After (or during) iteration:
      .tokens            the sampled ids (including a final end-of-generation token, which
                         prints nothing and, as in bitnet_generate, is not evaluated)
      .n_prompt_tokens   prompt tokens evaluated
      .stop_reason       None while running, then "eog", "max_tokens" or "stop"
      .text              the text yielded so far
    A CONTEXT_FULL or ABORTED error is raised after the text produced before it is yielded.
    """

    def __init__(self, ctx: Context, prompt, *, max_tokens, temperature, top_k, top_p, min_p,
                 repeat_penalty, repeat_last_n, seed, stop, add_bos, parse_special,
                 render_special):
        self._sampler = None
        ctx._live()
        if int(max_tokens) < 0:
            raise BitnetError(Status.INVALID_ARGUMENT, "max_tokens must be >= 0")
        if stop is None:
            stop = []
        elif isinstance(stop, str):
            stop = [stop]
        stop = list(stop)
        if any(not isinstance(s, str) or not s for s in stop):
            raise BitnetError(Status.INVALID_ARGUMENT, "stop strings must be non-empty str")
        L = lib()
        sp = L.bitnet_sampling_default_params()
        sp.temperature = float(temperature)
        sp.top_k = int(top_k)
        sp.top_p = float(top_p)
        sp.min_p = float(min_p)
        sp.repeat_penalty = float(repeat_penalty)
        sp.repeat_last_n = int(repeat_last_n)
        if not 0 <= int(seed) < 2**64:
            raise BitnetError(Status.INVALID_ARGUMENT, f"seed {seed} is not a 64-bit unsigned int")
        sp.seed = int(seed)
        sampler = _ffi.SamplerP()
        _check(L.bitnet_sampler_new(byref(sp), byref(sampler)))  # validates the parameters
        self._sampler = sampler
        self._ctx = ctx
        self._prompt = prompt
        self._max_tokens = int(max_tokens)
        self._stop = stop
        self._add_bos = bool(add_bos)
        self._parse_special = bool(parse_special)
        self._render_special = bool(render_special)
        self.tokens: List[int] = []
        self.n_prompt_tokens = 0
        self.stop_reason: Optional[str] = None
        self._pieces: List[str] = []
        self._gen = self._run()

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        piece = next(self._gen)
        self._pieces.append(piece)
        return piece

    def close(self) -> None:
        """Stops the generation and frees its sampler (idempotent)."""
        self._gen.close()
        self._free()

    def __del__(self):
        try:
            self._free()
        except Exception:
            pass

    def _free(self) -> None:
        s, self._sampler = self._sampler, None
        if s:
            lib().bitnet_sampler_free(s)

    def _split(self, held: str, final: bool):
        """(text to yield now, text to hold back, stop string found)."""
        first = -1
        for s in self._stop:
            i = held.find(s)
            if i >= 0 and (first < 0 or i < first):
                first = i
        if first >= 0:
            return held[:first], "", True
        if final:
            return held, "", False
        keep = 0
        for s in self._stop:
            for k in range(min(len(s) - 1, len(held)), keep, -1):
                if held.endswith(s[:k]):
                    keep = k
                    break
        cut = len(held) - keep
        return held[:cut], held[cut:], False

    def _run(self):
        ctx, model = self._ctx, self._ctx._model
        L = lib()
        try:
            h = ctx._live()
            mh = model._handle  # alive while this context is, even if the Model was closed
            prompt = self._prompt
            if isinstance(prompt, (str, bytes, bytearray, memoryview)):
                bos = self._add_bos and L.bitnet_context_n_past(h) == 0
                ids = _tokenize(mh, _text_bytes(prompt), bos, self._parse_special)
            else:
                ids = [int(t) for t in prompt]
            if ids:
                arr, n = _token_array(ids)
                _check(L.bitnet_eval(h, arr, n, 1))
            elif L.bitnet_n_logits(h) == 0:
                raise BitnetError(Status.INVALID_ARGUMENT,
                                  "generate: the prompt is empty and the context holds no "
                                  "logits to continue from")
            self.n_prompt_tokens = len(ids)
            for t in ids:
                _check(L.bitnet_sampler_accept(self._sampler, t))

            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            n_vocab = model._n_vocab
            out = _ffi.bitnet_token()
            one = (_ffi.bitnet_token * 1)()
            held = ""
            while len(self.tokens) < self._max_tokens:
                h = ctx._live()
                logits = L.bitnet_get_logits(h, -1)
                if not logits:
                    raise BitnetError(Status.INTERNAL, "generate: no logits after eval")
                _check(L.bitnet_sampler_sample(self._sampler, logits, n_vocab, byref(out)))
                tok = out.value
                self.tokens.append(tok)
                if L.bitnet_token_is_eog(mh, tok):
                    self.stop_reason = STOP_EOG
                    break
                held += decoder.decode(model._piece(mh, tok, self._render_special))
                now, held, hit = self._split(held, final=False)
                if now:
                    yield now
                if hit:
                    self.stop_reason = STOP_STRING
                    return
                if len(self.tokens) == self._max_tokens:
                    break
                h = ctx._live()  # the consumer may have closed the context during the yield
                try:
                    if L.bitnet_context_n_past(h) >= L.bitnet_context_n_ctx(h):
                        raise BitnetError(
                            Status.CONTEXT_FULL,
                            f"generate: the context is full ({L.bitnet_context_n_ctx(h)} "
                            f"tokens) after {len(self.tokens)} generated tokens")
                    one[0] = tok
                    _check(L.bitnet_eval(h, one, 1, 1))
                except BitnetError:
                    rest, _, _ = self._split(held + decoder.decode(b"", True), final=True)
                    if rest:
                        yield rest
                    raise
            if self.stop_reason is None:
                self.stop_reason = STOP_MAX_TOKENS
            rest, _, hit = self._split(held + decoder.decode(b"", True), final=True)
            if rest:
                yield rest
            if hit:
                self.stop_reason = STOP_STRING
        finally:
            self._free()
