# Sanitizer and fuzzing instrumentation for every target of the build (included from the top-level
# CMakeLists.txt before any target is defined).
#
#   -DBITNET_SANITIZE=address  AddressSanitizer (+ LeakSanitizer, part of ASan on Linux) on
#                              everything, UndefinedBehaviorSanitizer on the library, kernels
#                              and `bitnet serve` (not the tests' own code, nor the CLI11 glue
#                              of the other commands); any UB report aborts the program.
#   -DBITNET_SANITIZE=thread   ThreadSanitizer.
#   -DBITNET_FUZZ=ON           libFuzzer harnesses in tests/fuzz (clang only): everything is
#                              compiled with -fsanitize=fuzzer-no-link,address,undefined so the
#                              library's code gives coverage feedback; the harnesses link
#                              -fsanitize=fuzzer.
# Third-party libraries from the system (OpenBLAS, PCRE2, hwloc, GoogleTest, libstdc++) are not
# instrumented; see tests/sanitizers.md for what that means for each sanitizer.
set(BITNET_SANITIZE "" CACHE STRING "Sanitizer build: empty (none), address (ASan+UBSan) or thread (TSan)")
set_property(CACHE BITNET_SANITIZE PROPERTY STRINGS "" address thread)
option(BITNET_FUZZ "Build the libFuzzer harnesses in tests/fuzz (clang only)" OFF)

set(_bitnet_san_flags "")
set(_bitnet_san_link_flags "")
# UBSan's compile options for the library and the server (bitnet_enable_ubsan below). UBSan
# makes the template-heavy files two to three times slower to compile (-O1 -g1: cmd_bench.cpp
# 28 s with ASan + UBSan, 11 s with ASan alone; test_gguf.cpp 9 s with ASan alone), and the
# tests' own code is not what it should check.
set(BITNET_UBSAN_COMPILE_OPTIONS "")
if(BITNET_SANITIZE STREQUAL "address")
  set(_bitnet_san_flags -fsanitize=address -fno-omit-frame-pointer)
  set(_bitnet_san_link_flags -fsanitize=address,undefined)
  set(BITNET_UBSAN_COMPILE_OPTIONS -fsanitize=undefined -fno-sanitize-recover=undefined)
elseif(BITNET_SANITIZE STREQUAL "thread")
  set(_bitnet_san_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT BITNET_SANITIZE STREQUAL "")
  message(FATAL_ERROR "BITNET_SANITIZE must be empty, 'address' or 'thread' (got '${BITNET_SANITIZE}')")
endif()

if(BITNET_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "BITNET_FUZZ=ON needs clang (libFuzzer); configure with CC=clang CXX=clang++")
  endif()
  if(BITNET_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "BITNET_FUZZ=ON uses ASan+UBSan; it cannot be combined with BITNET_SANITIZE=thread")
  endif()
  set(_bitnet_san_flags -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
  set(BITNET_UBSAN_COMPILE_OPTIONS "")  # already on everything
endif()
if(NOT _bitnet_san_link_flags)
  set(_bitnet_san_link_flags ${_bitnet_san_flags})
endif()

if(_bitnet_san_flags)
  message(STATUS "bitnet: instrumenting all targets with ${_bitnet_san_flags}")
  add_compile_options(${_bitnet_san_flags})
  add_link_options(${_bitnet_san_link_flags})
  # Line tables and function names for the reports (-g1: full -g costs cmd_bench.cpp 9 s more
  # of its 33). -O1 for everything but the kernels (CMakeLists.txt puts -O2 back on kernels/):
  # UBSan's checks make the template-heavy files (nlohmann-json, cpp-httplib, GoogleTest) very
  # slow to optimise at -O2 (cmd_gen_model.cpp: 55 s at -O2, 35 s at -O1), while the test
  # suite's run time is spent in the kernels.
  add_compile_options(-g1 -O1)
  set(BITNET_SANITIZED_KERNEL_OPT -O2)
endif()

# UBSan on one of the product's targets (the library's objects, the bitnet tool, the server's
# request library); a no-op outside BITNET_SANITIZE=address.
function(bitnet_enable_ubsan target)
  if(BITNET_UBSAN_COMPILE_OPTIONS)
    target_compile_options(${target} PRIVATE ${BITNET_UBSAN_COMPILE_OPTIONS})
  endif()
endfunction()
