# The Debian package (CPack DEB) of the release build: included by the top CMakeLists.txt when
# DM_PACKAGE is ON (default ON for CMAKE_BUILD_TYPE=Release). Build the `dm_package_files` target,
# then run `cpack` in the build tree (dev/test.d/70-package.sh does both):
#   /usr/bin/dagmedic                       stripped; its debug info is <build>/pkg/dagmedic.debug
#                                           (objcopy --only-keep-debug, linked by .gnu_debuglink)
#   /usr/share/dagmedic/rules/*.yaml        the built-in rules (compiled in; the format of your own)
#   /usr/share/doc/dagmedic/                README, docs, examples/config.yaml (docs/config.md's example)
#   /usr/share/man/man1/dagmedic*.1.gz      generated from the CLI's own --help (packaging/gen-manpages.py)
#   /lib/systemd/system/dagmedic.service    `serve --transport http` as user dagmedic, sandboxed
#   /lib/systemd/system/dagmedic-watch.service  `watch` (docs/watch.md), same user, state and sandbox
#   /etc/dagmedic/config.yaml               the service's config (conffile, root:dagmedic 0640)
# Dependencies: dpkg-shlibdeps on the binary (CPACK_DEBIAN_PACKAGE_SHLIBDEPS) plus adduser.
find_program(DM_OBJCOPY NAMES objcopy REQUIRED)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(dm_pkg ${PROJECT_BINARY_DIR}/pkg)
execute_process(COMMAND git log -1 --format=%cs WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE dm_pkg_date OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT dm_pkg_date)
  string(TIMESTAMP dm_pkg_date "%Y-%m-%d" UTC)
endif()

add_custom_command(
  OUTPUT ${dm_pkg}/dagmedic ${dm_pkg}/dagmedic.debug
  COMMAND ${CMAKE_COMMAND} -E make_directory ${dm_pkg}
  COMMAND ${DM_OBJCOPY} --only-keep-debug --compress-debug-sections=zlib $<TARGET_FILE:dagmedic> ${dm_pkg}/dagmedic.debug
  COMMAND ${DM_OBJCOPY} --strip-debug --strip-unneeded --remove-section=.comment
          --add-gnu-debuglink=${dm_pkg}/dagmedic.debug $<TARGET_FILE:dagmedic> ${dm_pkg}/dagmedic
  DEPENDS dagmedic
  COMMENT "dagmedic: debug info into pkg/dagmedic.debug, stripped binary pkg/dagmedic")

add_custom_command(
  OUTPUT ${dm_pkg}/man/dagmedic.1.gz
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${dm_pkg}/man
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/packaging/gen-manpages.py ${dm_pkg}/dagmedic ${dm_pkg}/man ${dm_pkg_date}
  DEPENDS ${dm_pkg}/dagmedic ${PROJECT_SOURCE_DIR}/packaging/gen-manpages.py
  COMMENT "dagmedic: man pages from --help")

# docs/config.md's "## Example" YAML block, as the packaged example config.
add_custom_command(
  OUTPUT ${dm_pkg}/examples/config.yaml
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/packaging/example-config.py
          ${PROJECT_SOURCE_DIR}/docs/config.md ${dm_pkg}/examples/config.yaml
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/config.md ${PROJECT_SOURCE_DIR}/packaging/example-config.py
  COMMENT "dagmedic: examples/config.yaml from docs/config.md")
add_custom_target(dm_package_files ALL
  DEPENDS ${dm_pkg}/dagmedic ${dm_pkg}/man/dagmedic.1.gz ${dm_pkg}/examples/config.yaml)

include(GNUInstallDirs)
install(PROGRAMS ${dm_pkg}/dagmedic DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/rules/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dagmedic/rules
        FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${dm_pkg}/man/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1.gz")
install(FILES ${dm_pkg}/examples/config.yaml DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/packaging/README.Debian
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs
        FILES_MATCHING PATTERN "*.md" PATTERN "benchmarks" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/dagmedic.service
              ${PROJECT_SOURCE_DIR}/packaging/systemd/dagmedic-watch.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/config.yaml DESTINATION /etc/dagmedic)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dagmedic)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MCP server and CLI for incident response on Apache Airflow and Amazon MWAA")
set(CPACK_PACKAGE_DESCRIPTION "dagmedic lets an AI assistant run incident response on failed Airflow and MWAA
pipelines through bounded MCP tools (Detect, Triage, Diagnose, Remediate, Verify,
Postmortem): reads are bounded and redacted, writes run only after a different
human approves the exact parameters, and every step is audited.")
set(DM_PACKAGE_MAINTAINER "dagmedic maintainers <dagmedic@localhost>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${DM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst ${PROJECT_SOURCE_DIR}/packaging/deb/prerm
    ${PROJECT_SOURCE_DIR}/packaging/deb/postrm ${PROJECT_SOURCE_DIR}/packaging/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES OFF)  # stripped above, with the debug link kept
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/dist)
include(CPack)
