# Build options: warnings, sanitizers, fuzzers, hardening.
option(TT_WERROR "Treat warnings as errors" OFF)
option(TT_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(TT_FUZZ "Build libFuzzer targets (requires clang)" OFF)

set(TT_WARNINGS
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef
  -Wpointer-arith -Wcast-qual -Wvla -Wimplicit-fallthrough)
if(TT_WERROR)
  list(APPEND TT_WARNINGS -Werror)
endif()

# Applied to every target of ours through tt_target_defaults().
set(TT_HARDENING -fstack-protector-strong -fno-strict-aliasing)
if(NOT TT_SANITIZE AND NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
  list(APPEND TT_HARDENING -D_FORTIFY_SOURCE=2)
endif()

set(TT_SANITIZE_FLAGS "")
if(TT_SANITIZE)
  set(TT_SANITIZE_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined)
endif()
if(TT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TT_FUZZ needs clang: cmake -DCMAKE_C_COMPILER=clang")
  endif()
  list(APPEND TT_SANITIZE_FLAGS -fsanitize=fuzzer-no-link,address,undefined)
endif()

function(tt_target_defaults target)
  target_compile_options(${target} PRIVATE ${TT_WARNINGS} ${TT_HARDENING} ${TT_SANITIZE_FLAGS})
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
  if(TT_SANITIZE_FLAGS)
    target_link_options(${target} PRIVATE ${TT_SANITIZE_FLAGS})
  endif()
endfunction()
