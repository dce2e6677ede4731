#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ipam/ipv4.h"
#include "ipam/store.h"
#include "ovsdb/client.h"
#include "ovsdb/error.h"

namespace ovsplane::ovsdb {

/** A network as the state database records it: one CIDR, one VNI, one gateway, cluster-wide. */
struct NetworkRecord {
  std::string cidr;  ///< canonical network/prefix, e.g. "10.0.6.0/24"
  std::string gateway;
  uint32_t vni = 0;
  int64_t createdAtMs = 0;
  /** Egress NAT and host reachability through the gateway (false: a sealed network). Chosen by
   *  the first attach; external_ids:nat=false in the row (absent: true). */
  bool nat = true;
};

struct AddressRecord {
  std::string cidr;
  std::string ip;
  std::string owner;  ///< container (endpoint) id
  std::string host;   ///< the host that allocated it
  std::string mac;
  int64_t createdAtMs = 0;  ///< when it was reserved (wall clock); 0 for rows of older versions
};

struct HostRecord {
  std::string name;
  std::string vtepIp;
  int64_t lastSeenMs = 0;
};

/**
 * ovsplane's state (networks, addresses, hosts) in the OVSPlane OVSDB database, standalone or a
 * Raft cluster, through an IdlClient. Implements ipam::Store: reserve() inserts an Address row and
 * the unique indexes (network, ip) and (network, owner) make it atomic cluster-wide; a retry after
 * an unknown outcome (connection lost mid-commit) finds its own row by owner. Thread-safe.
 * Backend failures and timeouts surface as ipam::ErrorCode::StoreUnavailable (ipam::Store methods)
 * or ovsdb::ErrorCode::Timeout / Backend (the others).
 */
class StateStore final : public ipam::Store {
 public:
  /** `hostName` is recorded on every address this store reserves. */
  StateStore(ClientOptions options, std::string hostName);

  /** VNIs handed out automatically start here (lower ones are left for explicit choice). */
  static constexpr uint32_t kFirstAutoVni = 4096;

  /**
   * The network of `subnet`, created on first use with `vni` or the lowest free VNI from
   * kFirstAutoVni. Concurrent first calls (any host) agree on one row. Errors: InvalidArgument when
   * the network exists with another gateway, or the requested VNI belongs to another network.
   * `nat` applies only when the row is created (an existing network keeps its own).
   */
  Result<NetworkRecord> ensureNetwork(const ipam::Subnet& subnet,
                                      std::optional<uint32_t> vni = std::nullopt, bool nat = true);
  Result<std::optional<NetworkRecord>> findNetwork(const ipam::Subnet& subnet);
  Result<std::vector<NetworkRecord>> networks();
  /** Deletes the network row; Conflict while addresses still reference it. Idempotent. */
  Result<void> deleteNetwork(const ipam::Subnet& subnet);

  /** Every address of every network. */
  Result<std::vector<AddressRecord>> addresses();

  /** Inserts or refreshes this host's row (last_seen = now). */
  Result<void> registerHost(const std::string& name, const std::string& vtepIp);
  Result<std::vector<HostRecord>> hosts();
  Result<void> removeHost(const std::string& name);

  // ipam::Store. Reserving needs the network row (ensureNetwork) first.
  ipam::Result<ipam::ReserveOutcome> reserve(const ipam::Subnet& subnet, ipam::Ipv4Address address,
                                             std::string_view owner) override;
  ipam::Result<std::optional<ipam::Ipv4Address>> addressOf(const ipam::Subnet& subnet,
                                                           std::string_view owner) override;
  ipam::Result<ipam::ReserveNextOutcome> reserveNext(const ipam::Subnet& subnet,
                                                     std::string_view owner) override;
  ipam::Result<void> releaseOwner(const ipam::Subnet& subnet, std::string_view owner) override;
  ipam::Result<void> releaseAddress(const ipam::Subnet& subnet, ipam::Ipv4Address address) override;
  ipam::Result<std::vector<ipam::Lease>> leases(const ipam::Subnet& subnet) override;

  IdlClient& client() { return client_; }

 private:
  IdlClient client_;
  std::string hostName_;
};

}  // namespace ovsplane::ovsdb
