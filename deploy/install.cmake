# Install rules for deployment files; included from the top-level CMakeLists.txt, which
# installs the binaries (bin/) and schema/ (share/ticketsync/schema) itself.
#
#   <prefix>/lib/systemd/system/ticketsyncd.service   unit (paths follow the prefix)
#   <prefix>/lib/sysusers.d/ticketsync.conf            the ticketsync account
#   <prefix>/lib/tmpfiles.d/ticketsync.conf            /etc/ticketsync and its credentials dir
#   <prefix>/share/doc/ticketsync/                     example config, operations and
#                                                      configuration guides
#   <prefix>/share/ticketsync/extrahop/                the ExtraHop trigger and its setup guide
#
# The unit reads /etc/ticketsync/ticketsync.ini whatever the prefix: configuration lives
# in /etc, and the operator creates it from the installed example.

set(_ts_deploy "${CMAKE_CURRENT_LIST_DIR}")

# The unit in deploy/systemd is written for a /usr install (what `systemd-analyze
# verify` checks and packagers use). The prefix is only known at install time
# (`cmake --install --prefix`), so the paths are rewritten then; DESTDIR is honoured by
# file(INSTALL).
set(_ts_unit_code [==[
file(READ "@_ts_deploy@/systemd/ticketsyncd.service" _ts_unit)
string(REPLACE "/usr/bin/ticketsyncd" "${CMAKE_INSTALL_PREFIX}/bin/ticketsyncd" _ts_unit "${_ts_unit}")
string(REPLACE "/usr/share/doc/ticketsync/" "${CMAKE_INSTALL_PREFIX}/share/doc/ticketsync/" _ts_unit "${_ts_unit}")
# One staging file per destination, so installs to different places never share it.
string(MD5 _ts_dest "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(_ts_staged "@CMAKE_BINARY_DIR@/deploy/${_ts_dest}/ticketsyncd.service")
file(WRITE "${_ts_staged}" "${_ts_unit}")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${_ts_staged}")
file(REMOVE_RECURSE "@CMAKE_BINARY_DIR@/deploy/${_ts_dest}")
]==])
string(CONFIGURE "${_ts_unit_code}" _ts_unit_code @ONLY)
install(CODE "${_ts_unit_code}")

install(FILES "${_ts_deploy}/systemd/ticketsync.sysusers"
        DESTINATION lib/sysusers.d RENAME ticketsync.conf)
install(FILES "${_ts_deploy}/systemd/ticketsync.tmpfiles"
        DESTINATION lib/tmpfiles.d RENAME ticketsync.conf)

install(FILES
        "${_ts_deploy}/ticketsync.ini.example"
        "${_ts_deploy}/../docs/OPERATIONS.md"
        "${_ts_deploy}/../docs/CONFIGURATION.md"
        DESTINATION share/doc/ticketsync)

install(FILES
        "${_ts_deploy}/extrahop/ticketsync-trigger.js"
        "${_ts_deploy}/extrahop/README.md"
        DESTINATION share/ticketsync/extrahop)
