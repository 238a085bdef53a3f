#!/usr/bin/env python3
"""Checks that no C++ exception can leave the C API.

Every function that include/bitnet.h exports (BITNET_API) must be defined under lib/, and
its body must either run inside bitnet::api::guarded(...) (which maps every exception to a
status and message) or be listed in NO_THROW below with the reason it cannot throw. A new
entry point that is neither fails this check, and so does a stale NO_THROW entry.

Usage: tests/check_api_guards.py [source-dir]
"""
import pathlib
import re
import sys

# Entry points that need no guard: each only reads a field, compares, or frees; none allocates
# or calls anything that can throw. Keep the reason next to the name.
NO_THROW = {
    "bitnet_version": "returns a string literal",
    "bitnet_version_number": "returns a constant",
    "bitnet_status_string": "switch over string literals",
    "bitnet_last_error_message": "returns the thread-local message's c_str()",
    "bitnet_log_set": "stores two pointers under a std::mutex (its lock fails only on a "
                      "self-deadlock, which this function cannot make)",
    "bitnet_model_default_params": "fills a C struct",
    "bitnet_context_default_params": "fills a C struct",
    "bitnet_sampling_default_params": "fills a C struct",
    "bitnet_generate_default_params": "fills a C struct",
    "bitnet_bench_default_params": "fills a C struct",
    "bitnet_convert_default_params": "fills a C struct",
    "bitnet_model_free": "delete of a handle whose destructors do not throw",
    "bitnet_context_free": "delete of a handle whose destructors do not throw",
    "bitnet_sampler_free": "delete of a handle whose destructors do not throw",
    "bitnet_batch_free": "std::free of the four arrays",
    "bitnet_batch_clear": "sets one int",
}


# guarded(...) for status-returning entry points, guarded_value<T>(fallback, ...) for accessors,
# hparam(...) for the model hyperparameter getters (a guarded_value wrapper in lib/api.cpp).
GUARD = re.compile(r"\b(guarded|guarded_value|hparam)\b(<[^>]*>)?\(")


def exported_names(header: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    return re.findall(r"BITNET_API\b[^;(]*?\b(bitnet_\w+)\s*\(", text)


def function_bodies(source: str) -> dict[str, str]:
    """Maps each top-level `... bitnet_x(...) {` definition to its body text."""
    bodies = {}
    for m in re.finditer(r'^[A-Za-z_][\w \*"]*?\b(bitnet_\w+)\s*\(', source, flags=re.M):
        i = source.find(")", m.end())
        depth, j = 1, m.end()
        while depth and j < len(source):  # the parameter list may hold function pointers
            depth += {"(": 1, ")": -1}.get(source[j], 0)
            j += 1
        k = j
        while k < len(source) and source[k] in " \t\n":
            k += 1
        if k >= len(source) or source[k] != "{":
            continue  # a declaration or a call, not a definition
        depth, e = 1, k + 1
        while depth and e < len(source):
            depth += {"{": 1, "}": -1}.get(source[e], 0)
            e += 1
        bodies[m.group(1)] = source[k:e]
    return bodies


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
    names = exported_names((root / "include/bitnet.h").read_text())
    bodies = {}
    for f in sorted((root / "lib").rglob("*.cpp")):
        bodies.update(function_bodies(f.read_text()))
    failures = []
    for name in names:
        body = bodies.get(name)
        if body is None:
            failures.append(f"{name}: exported by bitnet.h but not defined under lib/")
        elif GUARD.search(body):
            if name in NO_THROW:
                failures.append(f"{name}: guarded, so its NO_THROW entry is stale")
        elif name not in NO_THROW:
            failures.append(f"{name}: not run inside guarded() and not listed in NO_THROW")
    for name in NO_THROW:
        if name not in names:
            failures.append(f"{name}: in NO_THROW but not exported by bitnet.h")
    for f in failures:
        print("FAIL -", f)
    guarded_count = sum(1 for n in names if GUARD.search(bodies.get(n, "")))
    print(f"{len(names)} entry points: {guarded_count} guarded, "
          f"{len([n for n in names if n in NO_THROW])} listed as not throwing, "
          f"{len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
