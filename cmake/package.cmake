# package — the Debian package (SG_PACKAGE=ON): the files a system install
# adds to the ordinary install rules (a default config in /etc/streamgate,
# a systemd unit, the README), and CPack's settings for `cpack -G DEB`.
# README "Packages". Kept out of plain builds: these rules write to /etc and
# /lib/systemd whatever --prefix says.

configure_file(src/packaging/streamgate.json.in ${CMAKE_CURRENT_BINARY_DIR}/streamgate.json @ONLY)
configure_file(src/packaging/streamgate.service.in ${CMAKE_CURRENT_BINARY_DIR}/streamgate.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/streamgate.json DESTINATION /etc/streamgate)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/streamgate.service DESTINATION /lib/systemd/system)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_PACKAGE_NAME streamgate)
set(CPACK_PACKAGE_VENDOR "streamgate")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "streaming gateway: chunked HTTP, SSE, WebSocket and long-poll from one URL")
set(CPACK_PACKAGE_DESCRIPTION
  "One URL answers curl -N, EventSource, WebSocket and long-poll clients, with pub/sub
channels and a bounded history per channel for resume. Ships the streamgate
command, its systemd unit, libstreamgate with headers, pkg-config and CMake
files for embedding, and the demo pages.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX}) # the paths compiled in
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "streamgate maintainers <streamgate@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the ELF files (dpkg-shlibdeps, from dpkg-dev) plus what is
# loaded with dlopen (libwebsockets' libev event-loop plugin) and what the
# unit runs (/bin/kill from procps: ExecReload)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-ev, procps")
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/src/packaging/deb/conffiles
  ${CMAKE_CURRENT_SOURCE_DIR}/src/packaging/deb/triggers
  ${CMAKE_CURRENT_SOURCE_DIR}/src/packaging/deb/postinst
  ${CMAKE_CURRENT_SOURCE_DIR}/src/packaging/deb/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/src/packaging/deb/postrm)
include(CPack)
