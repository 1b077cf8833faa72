# Install rules for deployment files; included from the top-level CMakeLists.txt, which
# installs the binaries (bin/) and schema/ (share/ticketsync/schema) itself.
#
#   <prefix>/lib/systemd/system/ticketsyncd.service   unit (paths follow the prefix)
#   <prefix>/lib/systemd/system/ticketsyncd@.service  one instance per tenant: the same
#                                                      unit, reading /etc/ticketsync/%i.ini
#   <prefix>/lib/sysusers.d/ticketsync.conf            the ticketsync account
#   <prefix>/lib/tmpfiles.d/ticketsync.conf            /etc/ticketsync and its credentials dir
#   <prefix>/share/doc/ticketsync/                     example config, operations and
#                                                      configuration guides
#   <prefix>/share/ticketsync/extrahop/                the ExtraHop trigger and its setup guide
#   <prefix>/share/ticketsync/{prometheus,grafana}/    alert rules and the dashboard
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
# The template is the same unit (its hardening exists once, in deploy/systemd), with
# each tenant's own configuration, credentials, environment file and instance id. A
# line that is no longer in the unit stops the install rather than being skipped.
set(_ts_tmpl "${_ts_unit}")
# Needles start at a line's beginning: the unit's comments quote some of these lines.
foreach(_ts_pair
    "\nDescription=ticketsync: |\nDescription=ticketsync (%i): "
    " -c /etc/ticketsync/ticketsync.ini\n| -c /etc/ticketsync/%i.ini\n"
    "\nLoadCredential=extrahop_api_key:/etc/ticketsync/credentials/extrahop_api_key\n|\nLoadCredential=extrahop_api_key:/etc/ticketsync/credentials/%i/extrahop_api_key\n"
    "\nEnvironmentFile=-/etc/ticketsync/ticketsync.env\n|\nEnvironment=TICKETSYNC_SERVICE_INSTANCE_ID=%H-%i\nEnvironmentFile=-/etc/ticketsync/%i.env\n")
  string(REPLACE "|" ";" _ts_kv "${_ts_pair}")
  list(GET _ts_kv 0 _ts_from)
  list(GET _ts_kv 1 _ts_to)
  string(FIND "${_ts_tmpl}" "${_ts_from}" _ts_at)
  if(_ts_at EQUAL -1)
    message(FATAL_ERROR "ticketsyncd@.service: \"${_ts_from}\" is no longer in ticketsyncd.service")
  endif()
  string(REPLACE "${_ts_from}" "${_ts_to}" _ts_tmpl "${_ts_tmpl}")
endforeach()
file(WRITE "@CMAKE_BINARY_DIR@/deploy/${_ts_dest}/ticketsyncd@.service"
     "# Generated from ticketsyncd.service at install: one ticketsyncd per tenant.\n"
     "#   systemctl enable --now ticketsyncd@<tenant>   reads /etc/ticketsync/<tenant>.ini,\n"
     "#   the key /etc/ticketsync/credentials/<tenant>/extrahop_api_key and, if present,\n"
     "#   /etc/ticketsync/<tenant>.env. See docs/OPERATIONS.md, \"Several tenants on one host\".\n"
     "#   (The notes below are the single-tenant unit's: read their paths per tenant.)\n"
     "${_ts_tmpl}")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
     FILES "${_ts_staged}" "@CMAKE_BINARY_DIR@/deploy/${_ts_dest}/ticketsyncd@.service")
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

install(FILES
        "${_ts_deploy}/prometheus/ticketsync-rules.yml"
        "${_ts_deploy}/prometheus/README.md"
        DESTINATION share/ticketsync/prometheus)
install(FILES "${_ts_deploy}/grafana/ticketsync-dashboard.json"
        DESTINATION share/ticketsync/grafana)
