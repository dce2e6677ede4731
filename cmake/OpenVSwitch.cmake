# libopenvswitch (static) from Debian's openvswitch-source release tarball, built once per build
# directory as an ExternalProject, plus a function that generates a C IDL for an OVSDB schema.
#
# Provides:
#   ovs::openvswitch                 imported static library (vswitch IDL included), with OVS headers
#   OVS_SOURCE_DIR                   the configured OVS tree (schemas live in vswitchd/, ovsdb/)
#   ovsplane_ovs_idl(<out_var> SCHEMA <file> PREFIX <c_prefix> HEADER <name.h>)
#                                    generates <name.h>/<name.c> in the current binary dir and
#                                    appends the .c to <out_var>
include(ExternalProject)

set(OVS_TARBALL "/usr/src/openvswitch/openvswitch.tar.gz" CACHE FILEPATH
    "Open vSwitch release tarball (Debian package openvswitch-source)")
if(NOT EXISTS "${OVS_TARBALL}")
  message(FATAL_ERROR "${OVS_TARBALL} not found: install openvswitch-source (scripts/bootstrap.sh)")
endif()
find_program(PYTHON3_EXECUTABLE NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH REQUIRED)

set(OVS_SOURCE_DIR "${CMAKE_BINARY_DIR}/_deps/openvswitch")
set(OVS_STATIC_LIB "${OVS_SOURCE_DIR}/lib/.libs/libopenvswitch.a")
# A makefile fragment that names every generated header, so they are built before the library
# (building lib/libopenvswitch.la alone fails on a missing odp-netlink.h).
set(OVS_BUILT_SOURCES_MK "${CMAKE_BINARY_DIR}/_deps/ovs-built-sources.mk")
file(WRITE "${OVS_BUILT_SOURCES_MK}" "ovsplane-built-sources: $(BUILT_SOURCES)\n")

include(ProcessorCount)
ProcessorCount(OVS_JOBS)
if(OVS_JOBS EQUAL 0)
  set(OVS_JOBS 2)
endif()

# Debug information only where the build asks for it: without -g the library builds in about
# two thirds of the time (docs/benchmarks.md, "up").
if(CMAKE_BUILD_TYPE MATCHES "^(Release|MinSizeRel)$")
  set(OVS_DEFAULT_CFLAGS "-O2 -fPIC -ffunction-sections -fdata-sections")
else()
  set(OVS_DEFAULT_CFLAGS "-O2 -g -fPIC")
endif()
set(OVS_CFLAGS "${OVS_DEFAULT_CFLAGS}" CACHE STRING "CFLAGS for libopenvswitch (-fPIC is needed)")

# --enable-ssl: configure fails rather than silently building without OpenSSL.
ExternalProject_Add(openvswitch_build
  URL "${OVS_TARBALL}"
  DOWNLOAD_EXTRACT_TIMESTAMP TRUE
  SOURCE_DIR "${OVS_SOURCE_DIR}"
  BUILD_IN_SOURCE TRUE
  CONFIGURE_COMMAND ./configure --enable-ssl --disable-libcapng --disable-afxdp --enable-static
                    --disable-shared PYTHON3=${PYTHON3_EXECUTABLE} "CFLAGS=${OVS_CFLAGS}"
  BUILD_COMMAND make -j${OVS_JOBS} -f Makefile -f ${OVS_BUILT_SOURCES_MK} ovsplane-built-sources
        COMMAND make -j${OVS_JOBS} lib/libopenvswitch.la ovsdb/ovsdb-idlc
  INSTALL_COMMAND ""
  LOG_CONFIGURE TRUE
  LOG_BUILD TRUE
  LOG_OUTPUT_ON_FAILURE TRUE
  BUILD_BYPRODUCTS "${OVS_STATIC_LIB}")

# Imported targets must name include directories that exist at generate time.
foreach(dir include lib)
  file(MAKE_DIRECTORY "${OVS_SOURCE_DIR}/${dir}")
endforeach()

add_library(ovs::openvswitch STATIC IMPORTED GLOBAL)
set_target_properties(ovs::openvswitch PROPERTIES IMPORTED_LOCATION "${OVS_STATIC_LIB}")
target_include_directories(ovs::openvswitch SYSTEM INTERFACE
  "${OVS_SOURCE_DIR}" "${OVS_SOURCE_DIR}/include" "${OVS_SOURCE_DIR}/lib")
# Built with OpenSSL: ssl: remotes of the state database (stream-ssl).
target_link_libraries(ovs::openvswitch INTERFACE OpenSSL::SSL OpenSSL::Crypto atomic m Threads::Threads)
add_dependencies(ovs::openvswitch openvswitch_build)

function(ovsplane_ovs_idl out_var)
  cmake_parse_arguments(IDL "" "SCHEMA;PREFIX;HEADER" "" ${ARGN})
  get_filename_component(stem "${IDL_HEADER}" NAME_WE)
  set(ann "${CMAKE_CURRENT_BINARY_DIR}/${stem}.ann")
  set(ovsidl "${CMAKE_CURRENT_BINARY_DIR}/${stem}.ovsidl")
  set(header "${CMAKE_CURRENT_BINARY_DIR}/${IDL_HEADER}")
  set(source "${CMAKE_CURRENT_BINARY_DIR}/${stem}.c")
  file(WRITE "${ann}" "s[\"idlPrefix\"] = \"${IDL_PREFIX}\"\ns[\"idlHeader\"] = \"\\\"${IDL_HEADER}\\\"\"\n")
  set(idlc ${CMAKE_COMMAND} -E env PYTHONPATH=${OVS_SOURCE_DIR}/python
      ${PYTHON3_EXECUTABLE} ${OVS_SOURCE_DIR}/ovsdb/ovsdb-idlc.in)
  add_custom_command(
    OUTPUT "${header}" "${source}"
    COMMAND ${idlc} annotate "${IDL_SCHEMA}" "${ann}" > "${ovsidl}"
    COMMAND ${idlc} c-idl-header "${ovsidl}" > "${header}"
    COMMAND ${idlc} c-idl-source "${ovsidl}" > "${source}"
    DEPENDS "${IDL_SCHEMA}" openvswitch_build
    COMMENT "Generating OVSDB IDL ${IDL_HEADER} from ${IDL_SCHEMA}"
    VERBATIM)
  set(${out_var} ${${out_var}} "${source}" PARENT_SCOPE)
endfunction()
