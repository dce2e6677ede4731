# The Docker Engine API client (Boost.Beast over dockerd's unix socket) and the pause image.
# Included from netdrv/CMakeLists.txt: adds to its `netdrv` target.

# The pause program: PID 1 of ovsplane's network-only containers. A small static C program; it
# runs inside containers, so it is built without the project's sanitizer flags (a static
# executable cannot carry ASan's runtime) and embedded into libnetdrv (pause_image.cc).
add_executable(ovsplane_pause "${CMAKE_CURRENT_LIST_DIR}/pause/pause.c")
set_target_properties(ovsplane_pause PROPERTIES
  COMPILE_OPTIONS ""
  LINK_OPTIONS ""
  OUTPUT_NAME pause
  RUNTIME_OUTPUT_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/pause"
  INTERPROCEDURAL_OPTIMIZATION OFF)
target_compile_options(ovsplane_pause PRIVATE -Os -fno-sanitize=all)
target_link_options(ovsplane_pause PRIVATE -static -s)
ovsplane_warnings(ovsplane_pause)
set(OVSPLANE_PAUSE_BINARY "${CMAKE_CURRENT_BINARY_DIR}/pause/pause")

target_sources(netdrv PRIVATE
  "${CMAKE_CURRENT_LIST_DIR}/docker_client.cc"
  "${CMAKE_CURRENT_LIST_DIR}/pause_image.cc")
target_link_libraries(netdrv
  PUBLIC nlohmann_json::nlohmann_json
  PRIVATE Boost::headers Threads::Threads)

# pause_image.cc embeds the binary with the assembler's .incbin: rebuild it when the binary
# changes (compiler depfiles do not see .incbin).
set_source_files_properties("${CMAKE_CURRENT_LIST_DIR}/pause_image.cc" PROPERTIES
  COMPILE_DEFINITIONS "OVSPLANE_PAUSE_BINARY=\"${OVSPLANE_PAUSE_BINARY}\""
  OBJECT_DEPENDS "${OVSPLANE_PAUSE_BINARY}")
add_dependencies(netdrv ovsplane_pause)
