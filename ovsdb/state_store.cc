#include "ovsdb/state_store.h"

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "common/wall_clock.h"
#include "ipam/round_robin.h"

#include "shim.h"

namespace ovsplane::ovsdb {
namespace {

NetworkRecord toRecord(const ovsplane_st_network& net) {
  return NetworkRecord{net.cidr, net.gateway, static_cast<uint32_t>(net.vni), net.created_at,
                       net.nat};
}

AddressRecord toRecord(const ovsplane_st_address& address) {
  return AddressRecord{address.cidr, address.ip,  address.owner,
                       address.host, address.mac, address.created_at};
}

ipam::Error toIpam(const Error& error) {
  return ipam::Error{error.code == ErrorCode::InvalidArgument ? ipam::ErrorCode::InvalidArgument
                                                              : ipam::ErrorCode::StoreUnavailable,
                     error.message};
}

template <typename T>
ipam::Result<T> toIpam(Result<T> result) {
  if (!result) {
    return std::unexpected(toIpam(result.error()));
  }
  if constexpr (std::is_void_v<T>) {
    return {};
  } else {
    return std::move(*result);
  }
}

/**
 * Commits `txn`; on success the job's result is `value`. A verify failure or reconnect reruns the
 * job on the next replica change; a unique-index violation reruns it as soon as the replica holds
 * the winning row (the rerun then sees it and answers from it).
 */
template <typename T>
JobStep commitThenSet(JobContext& context, ovsplane_txn* txn, IdlClient::Completion<T>& done,
                      T value, std::string what) {
  const unsigned int seqnoAtBuild = ovsplane_idl_seqno(context.idl());
  return JobCommit{txn,
                   [&done, value = std::move(value), seqnoAtBuild, what = std::move(what)](
                       JobContext& after, const TxnOutcome& outcome) mutable -> JobStep {
                     switch (outcome.status) {
                       case TxnOutcome::Status::Success:
                       case TxnOutcome::Status::Unchanged:
                         done.set(std::move(value));
                         return JobDone{};
                       case TxnOutcome::Status::TryAgain:
                         return JobRetryOnChange{};
                       case TxnOutcome::Status::Failed:
                         break;
                     }
                     if (outcome.constraintViolation) {
                       if (ovsplane_idl_seqno(after.idl()) != seqnoAtBuild) {
                         return JobRetryNow{};
                       }
                       return JobRetryOnChange{};
                     }
                     done.set(makeError(ErrorCode::Backend, what + ": " + outcome.error));
                     return JobDone{};
                   }};
}

/**
 * Runs a delete job: `stage` stages the deletion in a transaction and says whether there was
 * anything to delete (nothing is success: deletes are idempotent); the transaction is committed
 * like every other (retried on verify failures and reconnects).
 */
Result<void> runDelete(IdlClient& client, std::function<bool(ovsplane_txn*)> stage,
                       std::string what) {
  auto result =
      client
          .submit<std::monostate>(
              [stage = std::move(stage), what = std::move(what)](
                  JobContext& context, IdlClient::Completion<std::monostate>& done) -> JobStep {
                ovsplane_txn* txn = context.beginTxn();
                if (!stage(txn)) {
                  ovsplane_txn_destroy(txn);
                  done.set(std::monostate{});
                  return JobDone{};
                }
                return commitThenSet(context, txn, done, std::monostate{}, what);
              })
          .get();
  if (!result) return std::unexpected(result.error());
  return {};
}

}  // namespace

StateStore::StateStore(ClientOptions options, std::string hostName)
    : client_(Database::State, std::move(options)), hostName_(std::move(hostName)) {}

namespace {

/** The CIDR of a network in the replica that shares an address with `cidr`, if any. */
std::optional<std::string> overlappingNetwork(ovsplane_idl* idl, const std::string& cidr) {
  struct Search {
    ipam::Subnet subnet;
    std::optional<std::string> found;
  } search{*ipam::Subnet::parse(cidr), std::nullopt};
  ovsplane_st_networks(
      idl,
      [](void* sink, const ovsplane_st_network* net) {
        auto& s = *static_cast<Search*>(sink);
        auto other = ipam::Subnet::parse(net->cidr);
        if (!s.found && other && other->overlaps(s.subnet)) s.found = net->cidr;
      },
      &search);
  return search.found;
}

}  // namespace

Result<NetworkRecord> StateStore::ensureNetwork(const ipam::Subnet& subnet,
                                                std::optional<uint32_t> vni, bool nat) {
  const std::string cidr = subnet.toString();
  const std::string gateway = subnet.gateway().toString();
  if (vni && (*vni == 0 || *vni > 16777215)) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("VNI {} is out of range 1-16777215", *vni));
  }
  return client_
      .submit<NetworkRecord>([cidr, gateway, vni, nat](
                                 JobContext& context,
                                 IdlClient::Completion<NetworkRecord>& done) -> JobStep {
        ovsplane_st_network existing{};
        if (ovsplane_st_find_network(context.idl(), cidr.c_str(), &existing)) {
          if (gateway != existing.gateway) {
            done.set(makeError(ErrorCode::InvalidArgument,
                               fmt::format("network {} already exists with gateway {} (asked: {})",
                                           cidr, existing.gateway, gateway)));
          } else if (vni && *vni != existing.vni) {
            done.set(makeError(ErrorCode::InvalidArgument,
                               fmt::format("network {} already exists with VNI {} (asked: {})",
                                           cidr, existing.vni, *vni)));
          } else {
            done.set(toRecord(existing));
          }
          return JobDone{};
        }
        // Two networks sharing addresses would make routes and gateways ambiguous. (Two hosts
        // creating overlapping networks at the same moment both pass this check: the window is
        // one transaction; the reconciler of neither undoes it.)
        if (auto overlapping = overlappingNetwork(context.idl(), cidr)) {
          done.set(makeError(ErrorCode::InvalidArgument,
                             fmt::format("network {} overlaps network {}: choose a CIDR that "
                                         "shares no address with it",
                                         cidr, *overlapping)));
          return JobDone{};
        }
        uint32_t chosen = vni.value_or(kFirstAutoVni);
        if (vni && ovsplane_st_vni_in_use(context.idl(), chosen)) {
          done.set(makeError(ErrorCode::InvalidArgument,
                             fmt::format("VNI {} already belongs to another network", chosen)));
          return JobDone{};
        }
        while (ovsplane_st_vni_in_use(context.idl(), chosen)) {
          ++chosen;
        }
        const NetworkRecord record{cidr, gateway, chosen, wallClockMs(), nat};
        ovsplane_txn* txn = context.beginTxn();
        ovsplane_st_insert_network(txn, cidr.c_str(), gateway.c_str(), chosen, record.createdAtMs,
                                   nat);
        return commitThenSet(context, txn, done, record, "creating network " + cidr);
      })
      .get();
}

Result<std::optional<NetworkRecord>> StateStore::findNetwork(const ipam::Subnet& subnet) {
  const std::string cidr = subnet.toString();
  return client_
      .submit<std::optional<NetworkRecord>>(
          [cidr](JobContext& context,
                 IdlClient::Completion<std::optional<NetworkRecord>>& done) -> JobStep {
            ovsplane_st_network net{};
            done.set(ovsplane_st_find_network(context.idl(), cidr.c_str(), &net)
                         ? std::optional<NetworkRecord>(toRecord(net))
                         : std::nullopt);
            return JobDone{};
          })
      .get();
}

Result<std::vector<NetworkRecord>> StateStore::networks() {
  return client_
      .submit<std::vector<NetworkRecord>>(
          [](JobContext& context,
             IdlClient::Completion<std::vector<NetworkRecord>>& done) -> JobStep {
            std::vector<NetworkRecord> out;
            ovsplane_st_networks(
                context.idl(),
                [](void* sink, const ovsplane_st_network* net) {
                  static_cast<std::vector<NetworkRecord>*>(sink)->push_back(toRecord(*net));
                },
                &out);
            std::sort(out.begin(), out.end(),
                      [](const auto& a, const auto& b) { return a.vni < b.vni; });
            done.set(std::move(out));
            return JobDone{};
          })
      .get();
}

Result<void> StateStore::deleteNetwork(const ipam::Subnet& subnet) {
  const std::string cidr = subnet.toString();
  auto result =
      client_
          .submit<std::monostate>([cidr](JobContext& context,
                                         IdlClient::Completion<std::monostate>& done) -> JobStep {
            ovsplane_st_network net{};
            if (!ovsplane_st_find_network(context.idl(), cidr.c_str(), &net)) {
              done.set(std::monostate{});
              return JobDone{};
            }
            bool inUse = false;
            ovsplane_st_addresses(
                context.idl(), cidr.c_str(),
                [](void* flag, const ovsplane_st_address*) { *static_cast<bool*>(flag) = true; },
                &inUse);
            if (inUse) {
              done.set(makeError(ErrorCode::Conflict,
                                 fmt::format("network {} still has addresses", cidr)));
              return JobDone{};
            }
            ovsplane_txn* txn = context.beginTxn();
            ovsplane_st_delete_network(txn, cidr.c_str());
            return commitThenSet(context, txn, done, std::monostate{}, "deleting network " + cidr);
          })
          .get();
  if (!result) {
    return std::unexpected(result.error());
  }
  return {};
}

Result<std::vector<AddressRecord>> StateStore::addresses() {
  return client_
      .submit<std::vector<AddressRecord>>(
          [](JobContext& context,
             IdlClient::Completion<std::vector<AddressRecord>>& done) -> JobStep {
            std::vector<AddressRecord> out;
            ovsplane_st_addresses(
                context.idl(), nullptr,
                [](void* sink, const ovsplane_st_address* address) {
                  static_cast<std::vector<AddressRecord>*>(sink)->push_back(toRecord(*address));
                },
                &out);
            done.set(std::move(out));
            return JobDone{};
          })
      .get();
}

Result<void> StateStore::registerHost(const std::string& name, const std::string& vtepIp) {
  auto result =
      client_
          .submit<std::monostate>([name, vtepIp](
                                      JobContext& context,
                                      IdlClient::Completion<std::monostate>& done) -> JobStep {
            ovsplane_txn* txn = context.beginTxn();
            ovsplane_st_upsert_host(txn, name.c_str(), vtepIp.c_str(), wallClockMs());
            return commitThenSet(context, txn, done, std::monostate{}, "registering host " + name);
          })
          .get();
  if (!result) {
    return std::unexpected(result.error());
  }
  return {};
}

Result<std::vector<HostRecord>> StateStore::hosts() {
  return client_
      .submit<std::vector<HostRecord>>(
          [](JobContext& context, IdlClient::Completion<std::vector<HostRecord>>& done) -> JobStep {
            std::vector<HostRecord> out;
            ovsplane_st_hosts(
                context.idl(),
                [](void* sink, const ovsplane_st_host* host) {
                  static_cast<std::vector<HostRecord>*>(sink)->push_back(
                      HostRecord{host->name, host->vtep_ip, host->last_seen});
                },
                &out);
            std::sort(out.begin(), out.end(),
                      [](const auto& a, const auto& b) { return a.name < b.name; });
            done.set(std::move(out));
            return JobDone{};
          })
      .get();
}

Result<void> StateStore::removeHost(const std::string& name) {
  return runDelete(
      client_, [name](ovsplane_txn* txn) { return ovsplane_st_delete_host(txn, name.c_str()); },
      "removing host " + name);
}

ipam::Result<ipam::ReserveOutcome> StateStore::reserve(const ipam::Subnet& subnet,
                                                       ipam::Ipv4Address address,
                                                       std::string_view owner) {
  if (!subnet.containsHost(address)) {
    return ipam::makeError(ipam::ErrorCode::OutOfRange,
                           address.toString() + " is not a host address of " + subnet.toString());
  }
  const std::string cidr = subnet.toString();
  const std::string ip = address.toString();
  return toIpam(
      client_
          .submit<ipam::ReserveOutcome>(
              [cidr, ip, owner = std::string(owner), host = hostName_](
                  JobContext& context,
                  IdlClient::Completion<ipam::ReserveOutcome>& done) -> JobStep {
                ovsplane_st_address found{};
                if (ovsplane_st_address_by_owner(context.idl(), cidr.c_str(), owner.c_str(),
                                                 &found)) {
                  // Possibly our own earlier attempt whose answer was lost: at-least-once safe.
                  done.set(ipam::OwnerHolds{*ipam::Ipv4Address::parse(found.ip)});
                  return JobDone{};
                }
                if (ovsplane_st_address_by_ip(context.idl(), cidr.c_str(), ip.c_str(), &found)) {
                  done.set(ipam::AddressHeldBy{found.owner});
                  return JobDone{};
                }
                ovsplane_txn* txn = context.beginTxn();
                if (ovsplane_st_insert_address(txn, cidr.c_str(), ip.c_str(), owner.c_str(),
                                               host.c_str(), "") != 0) {
                  ovsplane_txn_destroy(txn);
                  done.set(makeError(ErrorCode::InvalidArgument,
                                     fmt::format("network {} is not registered in the state "
                                                 "database",
                                                 cidr)));
                  return JobDone{};
                }
                return commitThenSet(context, txn, done, ipam::ReserveOutcome{ipam::Reserved{}},
                                     "reserving " + ip + " in " + cidr);
              })
          .get());
}

ipam::Result<std::optional<ipam::Ipv4Address>> StateStore::addressOf(const ipam::Subnet& subnet,
                                                                     std::string_view owner) {
  using Answer = std::optional<ipam::Ipv4Address>;
  return toIpam(
      client_
          .submit<Answer>([cidr = subnet.toString(), owner = std::string(owner)](
                              JobContext& context, IdlClient::Completion<Answer>& done) -> JobStep {
            ovsplane_st_address found{};
            done.set(
                ovsplane_st_address_by_owner(context.idl(), cidr.c_str(), owner.c_str(), &found)
                    ? Answer(*ipam::Ipv4Address::parse(found.ip))
                    : std::nullopt);
            return JobDone{};
          })
          .get());
}

ipam::Result<ipam::ReserveNextOutcome> StateStore::reserveNext(const ipam::Subnet& subnet,
                                                               std::string_view owner) {
  using Answer = ipam::ReserveNextOutcome;
  return toIpam(
      client_
          .submit<Answer>(
              [subnet, cidr = subnet.toString(), owner = std::string(owner), host = hostName_](
                  JobContext& context, IdlClient::Completion<Answer>& done) -> JobStep {
                ovsplane_idl* idl = context.idl();
                ovsplane_st_network net{};
                if (!ovsplane_st_find_network(idl, cidr.c_str(), &net)) {
                  done.set(makeError(
                      ErrorCode::InvalidArgument,
                      fmt::format("network {} is not registered in the state database", cidr)));
                  return JobDone{};
                }
                ovsplane_st_address found{};
                if (ovsplane_st_address_by_owner(idl, cidr.c_str(), owner.c_str(), &found)) {
                  done.set(ipam::OwnerHolds{*ipam::Ipv4Address::parse(found.ip)});
                  return JobDone{};
                }
                std::optional<ipam::Ipv4Address> cursor;
                if (auto parsed = ipam::Ipv4Address::parse(net.last_reserved)) cursor = *parsed;
                // The network address is never a host: 0 marks "none" safely.
                const auto candidate = ipam::roundRobinCandidate(
                    subnet, cursor,
                    [&](ipam::Ipv4Address from,
                        ipam::Ipv4Address to) -> std::optional<ipam::Ipv4Address> {
                      const uint32_t free =
                          ovsplane_st_first_free(idl, cidr.c_str(), from.value(), to.value(), 0);
                      if (free == 0) return std::nullopt;
                      return ipam::Ipv4Address(free);
                    });
                if (!candidate) {
                  done.set(ipam::NetworkFull{});
                  return JobDone{};
                }
                const std::string ip = candidate->toString();
                ovsplane_txn* txn = context.beginTxn();
                ovsplane_st_insert_address(txn, cidr.c_str(), ip.c_str(), owner.c_str(),
                                           host.c_str(), "");
                // Lost to another host: the rerun sees its row and picks the next candidate.
                return commitThenSet(context, txn, done, Answer{ipam::ReservedAt{*candidate}},
                                     "reserving " + ip + " in " + cidr);
              })
          .get());
}

ipam::Result<void> StateStore::releaseOwner(const ipam::Subnet& subnet, std::string_view owner) {
  const std::string cidr = subnet.toString();
  return toIpam(runDelete(
      client_,
      [cidr, owner = std::string(owner)](ovsplane_txn* txn) {
        return ovsplane_st_delete_address_by_owner(txn, cidr.c_str(), owner.c_str());
      },
      fmt::format("releasing {} in {}", owner, cidr)));
}

ipam::Result<void> StateStore::releaseAddress(const ipam::Subnet& subnet,
                                              ipam::Ipv4Address address) {
  const std::string cidr = subnet.toString();
  const std::string ip = address.toString();
  return toIpam(runDelete(
      client_,
      [cidr, ip](ovsplane_txn* txn) {
        return ovsplane_st_delete_address_by_ip(txn, cidr.c_str(), ip.c_str());
      },
      fmt::format("releasing {} in {}", ip, cidr)));
}

ipam::Result<std::vector<ipam::Lease>> StateStore::leases(const ipam::Subnet& subnet) {
  using Answer = std::vector<ipam::Lease>;
  return toIpam(
      client_
          .submit<Answer>([cidr = subnet.toString()](
                              JobContext& context, IdlClient::Completion<Answer>& done) -> JobStep {
            Answer out;
            ovsplane_st_addresses(
                context.idl(), cidr.c_str(),
                [](void* sink, const ovsplane_st_address* address) {
                  static_cast<Answer*>(sink)->push_back(
                      ipam::Lease{*ipam::Ipv4Address::parse(address->ip), address->owner});
                },
                &out);
            std::sort(out.begin(), out.end());
            done.set(std::move(out));
            return JobDone{};
          })
          .get());
}

}  // namespace ovsplane::ovsdb
