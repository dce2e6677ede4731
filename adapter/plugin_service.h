#pragma once

#include <memory>
#include <string>

#include "adapter/http/message.h"
#include "adapter/metrics.h"
#include "netdrv/plugin_driver.h"

namespace ovsplane::adapter {

/** The name Docker knows the plugin by: `docker network create -d ovsplane --ipam-driver
 *  ovsplane`, and the socket file /run/docker/plugins/ovsplane.sock. */
inline constexpr const char* kPluginName = "ovsplane";

/**
 * Docker's network-plugin protocol (JSON over HTTP, POST only): /Plugin.Activate, the remote
 * NetworkDriver (/NetworkDriver.*) and IpamDriver (/IpamDriver.*) calls, decoded into typed
 * calls of netdrv::PluginDriver and answered in Docker's shapes. Errors are 200 answers with
 * {"Err": "ovsplane: ...", "Error": "ovsplane: ..."} (the network API reads Err, the IPAM API
 * Error), which the docker CLI prints; bodies that are not the protocol get 400. Thread-safe;
 * handle() never throws. `metrics` (the hook service's: one /metrics) counts every call and
 * must outlive the service.
 */
class PluginService {
 public:
  PluginService(std::shared_ptr<netdrv::PluginDriver> driver, Metrics& metrics);

  HttpAnswer handle(const HttpRequestView& request);

 private:
  std::shared_ptr<netdrv::PluginDriver> driver_;
  Metrics& metrics_;
};

}  // namespace ovsplane::adapter
