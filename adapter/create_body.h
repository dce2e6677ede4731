#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "ipam/ipv4.h"
#include "netdrv/driver.h"
#include "netdrv/error.h"

namespace ovsplane::adapter {

using netdrv::ErrorCode;
using netdrv::Result;
using MovedSettings = netdrv::NetworkContainerSettings;

/** What a container create body asks of ovsplane, read from its Env. */
struct NetworkRequest {
  ipam::Subnet subnet;                    ///< from OVSPLANE_CIDR or SOCKETPLANE_CIDR
  std::string cidrVariable;               ///< which variable named it
  std::optional<ipam::Ipv4Address> ip;    ///< OVSPLANE_IP, when given
  std::optional<std::string> macAddress;  ///< the body's MacAddress, when given (honoured)
  /** OVSPLANE_NAT (1/0, true/false, on/off), when given: chooses egress NAT and host
   *  reachability for a network this attach creates (an existing network keeps its own). */
  std::optional<bool> nat;
};

/**
 * Reads the request from a Docker create body (`Env` entries "NAME=value"). nullopt when the
 * body asks for no ovsplane network. Errors (InvalidRequest, messages fit for the docker CLI):
 * a bad CIDR or IP, OVSPLANE_CIDR and SOCKETPLANE_CIDR naming different networks, a bad MAC
 * (or one of the gateways' 02:6f:76 prefix), an OVSPLANE_NAT that is not a yes or a no.
 */
Result<std::optional<NetworkRequest>> readNetworkRequest(const nlohmann::json& body);

/**
 * Rewrites a create body in place for `container:<networkContainerId>` networking: sets
 * HostConfig.NetworkMode, removes what Docker would refuse with that mode, returns the settings
 * to move to the network-only container, and adds `labels` to Labels. Every other field stays as
 * it was. Errors (InvalidRequest): port publishing (ExposedPorts, PortBindings, PublishAllPorts)
 * or Links, which cannot work with a shared network namespace.
 */
Result<MovedSettings> rewriteForNetworkContainer(nlohmann::json& body,
                                                 const std::string& networkContainerId,
                                                 const nlohmann::json& labels);

/** Checks a body for what rewriteForNetworkContainer() would refuse, without changing it. */
Result<void> checkRewritable(const nlohmann::json& body);

/** An attached create: the body to pass on, and the attach to commit or roll back. */
struct AttachedCreate {
  nlohmann::json body;     ///< rewritten for container:<network-only container> networking
  std::string endpointId;  ///< pass to commit() or rollback()
  netdrv::AttachTimings timings;
};

/**
 * The Powerstrip path's one read of a Docker create body: the network request in its Env, the
 * settings to move, a typed netdrv::AttachRequest to `driver`, and the body rewritten for
 * `container:<id>` networking with the ovsplane.endpoint label. nullopt when the body asks for no
 * ovsplane network (pass it on unchanged). Errors: those of readNetworkRequest,
 * checkRewritable and the driver's attach (nothing is left behind).
 */
Result<std::optional<AttachedCreate>> attachCreate(netdrv::NetworkDriver& driver,
                                                   const nlohmann::json& body,
                                                   const std::string& appName);

}  // namespace ovsplane::adapter
