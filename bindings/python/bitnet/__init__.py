"""bitnet — Python bindings of libbitnet (CPU inference for ternary BitNet b1.58 GGUF models).

Pure Python over ctypes; the only thing it needs is the shared library libbitnet.so, found in
this order: $BITNET_LIBRARY (a file path; no fallback when set), a libbitnet.so* next to this
file, <repo>/build/libbitnet.so when running from the source tree, then
ctypes.util.find_library("bitnet") and "libbitnet.so.0" on the system search path.

    import bitnet
    with bitnet.Model("model.gguf") as model, model.context() as ctx:
        for piece in ctx.generate("The capital of France is", max_tokens=32):
            print(piece, end="", flush=True)
"""

from ._core import (
    BenchResult,
    BitnetError,
    Context,
    Generation,
    Model,
    PerplexityResult,
    Status,
    chat_format,
    version,
    version_number,
)
from ._convert import convert, quantize
from ._ffi import LibraryNotFoundError, library_path, load_library

__version__ = "0.2.0"

__all__ = [
    "convert",
    "quantize",
    "BenchResult", "BitnetError", "Context", "Generation", "LibraryNotFoundError", "Model",
    "PerplexityResult", "Status", "chat_format", "library_path", "load_library", "version",
    "version_number", "__version__",
]
