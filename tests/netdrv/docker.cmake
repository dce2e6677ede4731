# The Docker Engine API client against a private dockerd (tests/support/dockerd.h). Included
# from tests/CMakeLists.txt.
target_sources(test_support PRIVATE "${CMAKE_CURRENT_LIST_DIR}/../support/dockerd.cc")
target_link_libraries(test_support PRIVATE nlohmann_json::nlohmann_json)
ovsplane_test(netdrv_docker_client_test LABEL e2e SOURCES netdrv/docker_client_test.cc LIBS netdrv)
