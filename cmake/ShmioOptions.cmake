# Warnings and sanitizers, applied through one interface target every shmio target links.
add_library(shmio_build_flags INTERFACE)
add_library(shmio::build_flags ALIAS shmio_build_flags)
target_compile_options(shmio_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wnon-virtual-dtor -Wold-style-cast -Wcast-align)
# (-Wnull-dereference is left out: its flow analysis fires inside Boost.Asio headers.)
# GCC 12 reports false -Wrestrict positives inside libstdc++'s string concatenation at -O3
# (GCC bug 105329); the check is not worth a build break on correct code.
# Likewise -Wmaybe-uninitialized on a std::optional<boost::json::value> read after it is engaged
# (GCC bug 80635), which GCC 12 reports at -O3 once the libraries are built position-independent
# (-fPIC changes what it inlines); clang's -Wuninitialized and -Wsometimes-uninitialized stay on
# in the fuzz build (scripts/fuzz.sh).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(shmio_build_flags INTERFACE -Wno-restrict -Wno-maybe-uninitialized)
endif()
if(SHMIO_WERROR)
  target_compile_options(shmio_build_flags INTERFACE -Werror)
endif()

# The fuzz build (scripts/fuzz.sh): every library instrumented for libFuzzer's coverage and
# under ASan and UBSan (any UB fatal), as the fuzz targets are; before 2026-12-05 only the targets'
# own files were, and the fuzzers ran blind to the code they fed (a few dozen edges seen) with
# no sanitizer in it.
if(SHMIO_FUZZ)
  target_compile_options(shmio_build_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=undefined)
  target_link_options(shmio_build_flags INTERFACE -fsanitize=address,undefined)
endif()
if(SHMIO_SANITIZE STREQUAL "address")
  target_compile_options(shmio_build_flags INTERFACE -fsanitize=address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g)
  target_link_options(shmio_build_flags INTERFACE -fsanitize=address,undefined)
elseif(SHMIO_SANITIZE STREQUAL "thread")
  target_compile_options(shmio_build_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer -O1 -g)
  # GCC warns that TSan does not model atomic_thread_fence. Our only fences order the racy
  # seqlock reads before the validating tail load; those reads are deliberately not instrumented
  # (shm::copy_tentative), so TSan has nothing to miss there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(shmio_build_flags INTERFACE -Wno-tsan)
  endif()
  target_link_options(shmio_build_flags INTERFACE -fsanitize=thread)
elseif(SHMIO_SANITIZE)
  message(FATAL_ERROR "SHMIO_SANITIZE must be 'address', 'thread' or empty, not '${SHMIO_SANITIZE}'")
endif()
