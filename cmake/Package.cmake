# The Debian package, built by CPack's DEB generator; included from the top-level
# CMakeLists.txt after every install() rule.
#
#   cmake --build <dir> --target package     (or: cd <dir> && cpack)
#
# makes <dir>/ticketsync_<PROJECT_VERSION>_<arch>.deb: everything `cmake --install
# --prefix /usr` installs (deploy/install.cmake), plus what only the package has:
#
#   /etc/ticketsync/ticketsync.ini            the example configuration, a conffile
#   /usr/share/doc/ticketsync/copyright       deploy/package/copyright.in
#   /usr/share/doc/ticketsync/changelog.gz    deploy/package/changelog.in
#
# and the maintainer scripts in deploy/package (sysusers, tmpfiles, the unit: installed
# but neither enabled nor started). Depends: is computed by dpkg-shlibdeps (dpkg-dev)
# from the binaries, so it names the runtime libraries they load. Tested by
# integration.test_package.

set(_ts_pkg "${PROJECT_SOURCE_DIR}/deploy/package")
set(TICKETSYNC_DEB_MAINTAINER
    "Seed fd3cef99 maintainers <maintainers@users.noreply.r-seed-fd3cef99.example>")

# Package-only files live in the component "deb", left out of a plain `cmake --install`
# (EXCLUDE_FROM_ALL): that one must never write to /etc whatever its prefix.
install(FILES "${PROJECT_SOURCE_DIR}/deploy/ticketsync.ini.example"
        DESTINATION /etc/ticketsync RENAME ticketsync.ini
        COMPONENT deb EXCLUDE_FROM_ALL)

# changelog.gz: dated by SOURCE_DATE_EPOCH, else by the last commit, so rebuilding the
# same commit gives the same file (gzip -n: no name, no timestamp).
if(NOT DEFINED ENV{SOURCE_DATE_EPOCH})
  execute_process(COMMAND git -C "${PROJECT_SOURCE_DIR}" log -1 --format=%ct
                  OUTPUT_VARIABLE _ts_epoch OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _ts_git ERROR_QUIET)
  if(_ts_git EQUAL 0 AND _ts_epoch MATCHES "^[0-9]+$")
    set(ENV{SOURCE_DATE_EPOCH} "${_ts_epoch}")
    string(TIMESTAMP _ts_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
    unset(ENV{SOURCE_DATE_EPOCH})
  endif()
endif()
if(NOT _ts_deb_date)
  string(TIMESTAMP _ts_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
endif()
string(REGEX MATCH "[0-9][0-9][0-9][0-9]" _ts_deb_year "${_ts_deb_date}")
set(_ts_pkg_out "${CMAKE_BINARY_DIR}/package")
configure_file("${_ts_pkg}/changelog.in" "${_ts_pkg_out}/changelog" @ONLY)
configure_file("${_ts_pkg}/copyright.in" "${_ts_pkg_out}/copyright" @ONLY)
execute_process(COMMAND gzip -9nc "${_ts_pkg_out}/changelog"
                OUTPUT_FILE "${_ts_pkg_out}/changelog.gz" RESULT_VARIABLE _ts_gzip)
if(NOT _ts_gzip EQUAL 0)
  message(FATAL_ERROR "gzip of ${_ts_pkg_out}/changelog failed")
endif()
install(FILES "${_ts_pkg_out}/copyright" "${_ts_pkg_out}/changelog.gz"
        DESTINATION share/doc/ticketsync COMPONENT deb EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ticketsync)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "${TICKETSYNC_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "ExtraHop detections <-> ticket system sync service")
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "ticketsyncd watches the detections an ExtraHop trigger writes to MongoDB\n"
    "and the tickets of a ticketing system (Jira, ServiceNow, any HTTP\n"
    "endpoint), and pushes ticket id, status, assignee and resolution back to\n"
    "ExtraHop through its REST API, with retries and an audit trail in MongoDB.\n"
    "ticketsyncctl prepares the database, imports tickets, runs backfills and\n"
    "shows status and audit records.\n"
    "\n"
    "The systemd unit ticketsyncd.service is installed but neither enabled nor\n"
    "started: edit /etc/ticketsync/ticketsync.ini first.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)            # ticketsync_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)             # Depends: from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${_ts_pkg}/conffiles" "${_ts_pkg}/postinst" "${_ts_pkg}/prerm" "${_ts_pkg}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # 0755 scripts, 0644 conffiles
set(CPACK_STRIP_FILES ON)
# Installed with CMAKE_INSTALL_PREFIX=/usr and DESTDIR=<staging>, so the unit's
# ExecStart= (rewritten from the prefix at install time) says /usr/bin/ticketsyncd.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
# Everything a full install has, then the package-only component.
set(CPACK_INSTALL_CMAKE_PROJECTS
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};ALL;/"
    "${CMAKE_BINARY_DIR};${PROJECT_NAME};deb;/")

# `package_source` (include(CPack) adds it): the tree without build output or VCS.
set(CPACK_SOURCE_GENERATOR TXZ)
set(CPACK_SOURCE_IGNORE_FILES
    # Written into CPackSourceConfig.cmake, hence the doubled escapes.
    "/\\\\.git/" "/node_modules/" "^${PROJECT_SOURCE_DIR}/build[^/]*/"
    "^${PROJECT_SOURCE_DIR}/\\\\.cache/")

include(CPack)
