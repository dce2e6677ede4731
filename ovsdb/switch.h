#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ovsdb/client.h"
#include "ovsdb/error.h"

namespace ovsplane::ovsdb {

using StringMap = std::map<std::string, std::string>;

/** external_ids key that every row ovsplane creates carries ("true"); listOwned() filters on it. */
inline constexpr std::string_view kOwnedKey = "ovsplane-owned";

/** Open vSwitch datapath of a bridge: the kernel module, or the userspace datapath. */
enum class DatapathType { System, Netdev };
std::string_view datapathTypeName(DatapathType type);  ///< "system" / "netdev"

/** Checks an OVS bridge/port/interface name: 1-15 characters of [A-Za-z0-9_.-], not "." or "..".
 *  The error says what is wrong with which name. */
Result<void> validateInterfaceName(std::string_view name);

struct BridgeSpec {
  std::string name;
  DatapathType datapath = DatapathType::System;
  StringMap externalIds;
  /** The MAC of the bridge's own internal (LOCAL) port, other_config:hwaddr; "" leaves it. */
  std::string hwaddr;
  /** mtu_request of the LOCAL port; 0 leaves it. */
  uint32_t localMtu = 0;
  /** Port.protected of the LOCAL port: NORMAL switching never forwards between it and the
   *  (protected) tunnel ports, so the gateway's traffic never crosses the underlay. */
  bool localProtected = false;
};

struct PortSpec {
  std::string bridge;
  std::string name;
  std::string type;  ///< "" = a system interface (veth end), "internal", "vxlan", ...
  StringMap options;
  StringMap externalIds;
  bool isProtected = false;  ///< Port.protected: no forwarding between protected ports
};

/** A batch of Open_vSwitch changes applied in one transaction, in order. Ensure operations make
 *  rows match the spec (external_ids and options replaced as a whole, plus kOwnedKey); delete
 *  operations succeed when the row is already gone. A batch that ensures a port names it once
 *  (apply() rejects it otherwise, InvalidArgument): ports join and leave their bridges by
 *  mutations that the transaction's own later operations do not see, so a delete and an ensure
 *  of one name belong in two batches. */
class SwitchChanges {
 public:
  SwitchChanges& ensureBridge(BridgeSpec bridge);
  SwitchChanges& deleteBridge(std::string name);
  SwitchChanges& ensurePort(PortSpec port);
  /** A full-mesh tunnel port: type vxlan, options remote_ip and key=<vni>, protected. */
  SwitchChanges& ensureVxlanPort(std::string bridge, std::string name, std::string remoteIp,
                                 uint32_t vni, StringMap externalIds = {});
  SwitchChanges& deletePort(std::string name);

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  enum class Kind { EnsureBridge, DeleteBridge, EnsurePort, DeletePort };
  /** One staged operation: `bridge` is set for bridge kinds, `port` for port kinds. */
  struct Op {
    Kind kind;
    BridgeSpec bridge;
    PortSpec port;
  };
  /** The staged operations, in order (read-only: for logging and test doubles). */
  const std::vector<Op>& ops() const { return ops_; }

 private:
  friend class Switch;
  std::vector<Op> ops_;
};

struct BridgeInfo {
  std::string name;
  std::string datapathType;
  StringMap externalIds;
};

struct PortInfo {
  std::string name;
  std::string bridge;
  std::string type;
  StringMap options;
  StringMap externalIds;
  bool isProtected = false;
  int64_t ofport = -1;  ///< -1 until ovs-vswitchd assigns one
};

struct SwitchState {
  std::vector<BridgeInfo> bridges;
  std::vector<PortInfo> ports;  ///< every port of every bridge (bridges' own internal ports too)
};

/**
 * The Open_vSwitch database of one host, through an IdlClient (its own IDL thread).
 * Thread-safe. All operations are idempotent; each call is one transaction.
 */
class Switch {
 public:
  explicit Switch(ClientOptions options);

  /** Validates every name, then applies `changes` in one transaction (retried on conflicts).
   *  Returns the Open_vSwitch next_cfg to pass to waitApplied(). */
  Result<int64_t> apply(const SwitchChanges& changes);

  /** Waits until ovs-vswitchd has applied configuration `nextCfg` (cur_cfg >= nextCfg).
   *  Timeout error when it does not (e.g. no ovs-vswitchd running). */
  Result<void> waitApplied(int64_t nextCfg, std::chrono::milliseconds timeout);

  /** Every bridge and port in the database. */
  Result<SwitchState> snapshot();
  /** Only the bridges and ports ovsplane created (kOwnedKey=true). */
  Result<SwitchState> listOwned();

  IdlClient& client() { return client_; }

 private:
  IdlClient client_;
};

}  // namespace ovsplane::ovsdb
