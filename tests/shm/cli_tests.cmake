# End-to-end test of the shm-inspect command line, driven by ring-demo (both in tools/).
# Meant to be included from tests/CMakeLists.txt:  include(shm/cli_tests.cmake)
# (so CMAKE_CURRENT_SOURCE_DIR is tests/). Skipped when the tools are not built.
if(TARGET shm-inspect AND TARGET ring-demo)
  add_test(NAME shm_inspect_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/shm/shm_inspect_test.sh $<TARGET_FILE:shm-inspect> $<TARGET_FILE:ring-demo>)
  set_tests_properties(shm_inspect_cli PROPERTIES TIMEOUT 120 LABELS "shm;cli")
endif()
