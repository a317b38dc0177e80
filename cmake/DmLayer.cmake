# dm_layer(NAME [DEPS targets...])
# Builds library dm_NAME from every *.cpp under the calling folder (recursively), except
# *_test.cpp (GoogleTest, one binary NAME_tests per layer, label "unit"), *_fuzz.cpp
# (libFuzzer targets, only with DM_FUZZ) and *_main.cpp (programs the layer declares itself).
# Adding a file to a layer needs no CMake edit.
#
# Layers the build enforces: a layer's code sees the headers of its own layer and of the layers it
# reaches through DEPS (transitively), and no others. Its include directory is a folder of symbolic
# links, <build>/layer_include/NAME/<layer> -> src/<layer>, one for each visible layer, so an
# `#include "other/x.h"` of a layer not in DEPS fails to compile. dev/check-layers checks the DEPS
# themselves against the direction in docs/architecture.md.
function(dm_layer name)
  cmake_parse_arguments(L "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB_RECURSE all CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  set(srcs ${all})
  list(FILTER srcs EXCLUDE REGEX "(_test|_fuzz|_main)\\.cpp$")

  set(visible ${name})
  foreach(dep ${L_DEPS})
    if(dep MATCHES "^dm_" AND TARGET ${dep})
      get_target_property(dep_layers ${dep} DM_LAYERS)
      if(dep_layers)
        list(APPEND visible ${dep_layers})
      endif()
    endif()
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set(view ${PROJECT_BINARY_DIR}/layer_include/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(layer ${visible})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${layer} ${view}/${layer} SYMBOLIC)
  endforeach()

  if(srcs)
    add_library(dm_${name} STATIC ${srcs})
    target_include_directories(dm_${name} PUBLIC ${view})
    target_link_libraries(dm_${name} PUBLIC ${L_DEPS})
  else()
    add_library(dm_${name} INTERFACE)
    target_include_directories(dm_${name} INTERFACE ${view})
    target_link_libraries(dm_${name} INTERFACE ${L_DEPS})
  endif()
  set_target_properties(dm_${name} PROPERTIES DM_LAYERS "${visible}")
  

  if(DM_TESTS AND NOT DM_FUZZ)
    set(tests ${all})
    list(FILTER tests INCLUDE REGEX "_test\\.cpp$")
    if(tests)
      add_executable(${name}_tests ${tests})
      target_link_libraries(${name}_tests PRIVATE dm_${name} ${L_TEST_DEPS} GTest::gtest GTest::gtest_main gmock)
      target_compile_definitions(${name}_tests PRIVATE DM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" DM_BINARY_DIR="${PROJECT_BINARY_DIR}")
      gtest_discover_tests(${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
    endif()
  endif()

  if(DM_FUZZ)
    set(fuzzers ${all})
    list(FILTER fuzzers INCLUDE REGEX "_fuzz\\.cpp$")
    foreach(f ${fuzzers})
      get_filename_component(fname ${f} NAME_WE)
      add_executable(${fname} ${f})
      target_link_libraries(${fname} PRIVATE dm_${name})
      target_link_options(${fname} PRIVATE -fsanitize=fuzzer)
    endforeach()
  endif()
endfunction()
