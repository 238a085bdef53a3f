// Whether this test binary is built with AddressSanitizer or ThreadSanitizer (GCC defines
// __SANITIZE_*, clang answers __has_feature): such builds run fewer iterations, and skip the
// checks that sanitizer shadow memory makes meaningless (resident size, RLIMIT_AS).
#pragma once

namespace bitnet::test {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

}  // namespace bitnet::test
