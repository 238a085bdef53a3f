"""bitnet.convert() / bitnet.quantize(): the generated Hugging Face twin converts to its GGUF
fixture's exact tensors, ternary round trips are exact, bad input raises BitnetError.

Environment: BITNET_GENERATED_FIXTURES (the folder ctest's make_fixtures writes, holding hf/...),
BITNET_FIXTURES (the stored fixtures), BITNET_LIBRARY (set by ctest)."""

import os
import sys
import tempfile
import unittest
from pathlib import Path

PKG_ROOT = Path(__file__).resolve().parent.parent
REPO = PKG_ROOT.parent.parent
if os.environ.get("BITNET_TEST_INSTALLED") != "1":
    sys.path.insert(0, str(PKG_ROOT))

import ctypes  # noqa: E402

import bitnet  # noqa: E402
from bitnet import _ffi  # noqa: E402

FIXTURES = Path(os.environ.get("BITNET_FIXTURES") or (REPO.parent / "shared" / "fixtures"))
GENERATED = Path(os.environ.get("BITNET_GENERATED_FIXTURES") or (REPO / "build" / "fixtures"))


class TestConvert(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_params_struct_matches_header(self):
        p = _ffi.lib().bitnet_convert_default_params()
        self.assertEqual(p.size, ctypes.sizeof(_ffi.ConvertParams))
        self.assertEqual((p.ternary_type, p.embd_type, p.name), (0, 0, None))

    def test_twin_converts_and_runs_like_the_fixture(self):
        twin = GENERATED / "hf" / "tiny-b158-packed"
        self.assertTrue((twin / "config.json").is_file(), f"{twin} missing: run ctest's make_fixtures")
        out = self.dir / "b158.gguf"
        seen = []
        bitnet.convert(twin, out, progress=lambda i, n, name, b: seen.append((i, n, name)))
        self.assertEqual(len(seen), 24)
        self.assertEqual(seen[-1][:2], (24, 24))
        ids = [128000, 791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13]
        with bitnet.Model(out) as a, bitnet.Model(FIXTURES / "tiny-b158-i2s.gguf") as b:
            self.assertEqual(a.tokenize("The quick brown fox jumps over the lazy dog."), ids)
            with a.context(n_ctx=16, kv_type="f32") as ca, b.context(n_ctx=16, kv_type="f32") as cb:
                la, lb = ca.eval(ids), cb.eval(ids)
                self.assertEqual(list(la), list(lb))  # same weights: bit-identical logits

    def test_quantize_round_trip_is_exact(self):
        src = GENERATED / "tiny-llama-tq2.gguf"
        self.assertTrue(src.is_file(), f"{src} missing: run ctest's make_fixtures")
        i2s, back = self.dir / "i2s.gguf", self.dir / "tq2.gguf"
        bitnet.quantize(src, i2s, type="i2_s")
        bitnet.quantize(i2s, back, type="tq2_0")
        self.assertEqual(back.read_bytes(), src.read_bytes())

    def test_errors(self):
        with self.assertRaises(bitnet.BitnetError) as cm:
            bitnet.convert(self.dir / "nothing", self.dir / "x.gguf")
        self.assertEqual(cm.exception.status, bitnet.Status.IO)
        self.assertIn("config.json", str(cm.exception))
        with self.assertRaises(ValueError):
            bitnet.quantize(FIXTURES / "tiny-b158-i2s.gguf", self.dir / "x.gguf", type="q4")
        with self.assertRaises(bitnet.BitnetError) as cm:
            bitnet.quantize(FIXTURES / "tiny-b158-i2s.gguf", self.dir / "x.gguf", type="tq2_0")
        self.assertEqual(cm.exception.status, bitnet.Status.UNSUPPORTED)

        def stop(i, n, name, b):
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            bitnet.quantize(FIXTURES / "tiny-b158-i2s.gguf", self.dir / "x.gguf", progress=stop)
        self.assertFalse((self.dir / "x.gguf").exists())


if __name__ == "__main__":
    unittest.main()
