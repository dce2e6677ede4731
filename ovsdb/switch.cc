#include "ovsdb/switch.h"

#include <array>
#include <cerrno>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "shim.h"

namespace ovsplane::ovsdb {
namespace {

/** ovsplane_kvs over a StringMap; valid while both live. */
class KvView {
 public:
  explicit KvView(const StringMap& map) {
    items_.reserve(map.size());
    for (const auto& [key, value] : map) {
      items_.push_back(ovsplane_kv{key.c_str(), value.c_str()});
    }
  }
  ovsplane_kvs kvs() const { return ovsplane_kvs{items_.data(), items_.size()}; }

 private:
  std::vector<ovsplane_kv> items_;
};

StringMap toMap(ovsplane_kvs kvs) {
  StringMap map;
  for (size_t i = 0; i < kvs.n; ++i) {
    map.emplace(kvs.items[i].key, kvs.items[i].value);
  }
  return map;
}

StringMap withOwnedMarker(StringMap map) {
  map[std::string(kOwnedKey)] = "true";
  return map;
}

bool isOwned(const StringMap& externalIds) {
  auto it = externalIds.find(std::string(kOwnedKey));
  return it != externalIds.end() && it->second == "true";
}

void collectBridge(void* context, const ovsplane_vs_bridge* bridge) {
  static_cast<SwitchState*>(context)->bridges.push_back(
      BridgeInfo{bridge->name, bridge->datapath_type, toMap(bridge->external_ids)});
}

void collectPort(void* context, const ovsplane_vs_port* port) {
  static_cast<SwitchState*>(context)->ports.push_back(
      PortInfo{port->name, port->bridge, port->type, toMap(port->options),
               toMap(port->external_ids), port->protected_, port->ofport});
}

}  // namespace

std::string_view datapathTypeName(DatapathType type) {
  return type == DatapathType::Netdev ? "netdev" : "system";
}

Result<void> validateInterfaceName(std::string_view name) {
  if (name.empty()) {
    return makeError(ErrorCode::InvalidArgument, "interface name must not be empty");
  }
  if (name.size() > 15) {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("interface name \"{}\" is {} characters long (at most 15)",
                                 name.substr(0, 40), name.size()));
  }
  if (name == "." || name == "..") {
    return makeError(ErrorCode::InvalidArgument,
                     fmt::format("interface name \"{}\" is not allowed", name));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("interface name \"{}\" has a character outside [A-Za-z0-9_.-] "
                                   "(0x{:02x})",
                                   name, static_cast<unsigned char>(c)));
    }
  }
  return {};
}

SwitchChanges& SwitchChanges::ensureBridge(BridgeSpec bridge) {
  ops_.push_back(Op{Kind::EnsureBridge, std::move(bridge), {}});
  return *this;
}

SwitchChanges& SwitchChanges::deleteBridge(std::string name) {
  BridgeSpec bridge;
  bridge.name = std::move(name);
  ops_.push_back(Op{Kind::DeleteBridge, std::move(bridge), {}});
  return *this;
}

SwitchChanges& SwitchChanges::ensurePort(PortSpec port) {
  ops_.push_back(Op{Kind::EnsurePort, {}, std::move(port)});
  return *this;
}

SwitchChanges& SwitchChanges::ensureVxlanPort(std::string bridge, std::string name,
                                              std::string remoteIp, uint32_t vni,
                                              StringMap externalIds) {
  return ensurePort(PortSpec{
      .bridge = std::move(bridge),
      .name = std::move(name),
      .type = "vxlan",
      .options = {{"remote_ip", std::move(remoteIp)}, {"key", std::to_string(vni)}},
      .externalIds = std::move(externalIds),
      .isProtected = true,
  });
}

SwitchChanges& SwitchChanges::deletePort(std::string name) {
  PortSpec port;
  port.name = std::move(name);
  ops_.push_back(Op{Kind::DeletePort, {}, std::move(port)});
  return *this;
}

Switch::Switch(ClientOptions options) : client_(Database::OpenVSwitch, std::move(options)) {}

namespace {

/** Every name valid, and no port both ensured and named again (its bridge's mutation would not
 *  be seen by the batch's later operation on it: SwitchChanges). Deleting one twice is fine. */
Result<void> validateChanges(const std::vector<SwitchChanges::Op>& ops) {
  std::map<std::string_view, bool> ports;  // name -> ensured in this batch
  for (const auto& op : ops) {
    const bool isBridgeOp = op.kind == SwitchChanges::Kind::EnsureBridge ||
                            op.kind == SwitchChanges::Kind::DeleteBridge;
    if (auto valid = validateInterfaceName(isBridgeOp ? op.bridge.name : op.port.name); !valid) {
      return valid;
    }
    if (isBridgeOp) continue;
    const bool ensure = op.kind == SwitchChanges::Kind::EnsurePort;
    if (ensure) {
      if (auto valid = validateInterfaceName(op.port.bridge); !valid) return valid;
    }
    auto [seen, first] = ports.try_emplace(op.port.name, ensure);
    if (!first && (ensure || seen->second)) {
      return makeError(ErrorCode::InvalidArgument,
                       fmt::format("port \"{}\" is ensured and named again in one batch of "
                                   "changes (a delete and an ensure of one port go in two batches)",
                                   op.port.name));
    }
  }
  return {};
}

}  // namespace

Result<int64_t> Switch::apply(const SwitchChanges& changes) {
  if (auto valid = validateChanges(changes.ops_); !valid) {
    return std::unexpected(valid.error());
  }
  auto ops = std::make_shared<const std::vector<SwitchChanges::Op>>(changes.ops_);
  auto future = client_.submit<int64_t>([ops](JobContext& context,
                                              IdlClient::Completion<int64_t>& done) -> JobStep {
    ovsplane_txn* txn = context.beginTxn();
    std::array<char, 512> error{};
    for (const auto& op : *ops) {
      int rc = 0;
      switch (op.kind) {
        case SwitchChanges::Kind::EnsureBridge: {
          const StringMap idsMap = withOwnedMarker(op.bridge.externalIds);
          KvView ids(idsMap);
          rc = ovsplane_vs_ensure_bridge(txn, op.bridge.name.c_str(),
                                         std::string(datapathTypeName(op.bridge.datapath)).c_str(),
                                         ids.kvs(), op.bridge.hwaddr.c_str(), op.bridge.localMtu,
                                         op.bridge.localProtected, error.data(), error.size());
          break;
        }
        case SwitchChanges::Kind::DeleteBridge:
          rc = ovsplane_vs_delete_bridge(txn, op.bridge.name.c_str());
          break;
        case SwitchChanges::Kind::EnsurePort: {
          const StringMap ids = withOwnedMarker(op.port.externalIds);
          KvView idsView(ids);
          KvView optionsView(op.port.options);
          rc = ovsplane_vs_ensure_port(txn, op.port.bridge.c_str(), op.port.name.c_str(),
                                       op.port.type.c_str(), optionsView.kvs(), idsView.kvs(),
                                       op.port.isProtected, error.data(), error.size());
          break;
        }
        case SwitchChanges::Kind::DeletePort:
          rc = ovsplane_vs_delete_port(txn, op.port.name.c_str());
          break;
      }
      if (rc != 0) {
        ovsplane_txn_destroy(txn);
        done.set(makeError(rc == ENOENT ? ErrorCode::NotFound : ErrorCode::Conflict,
                           std::string(error.data())));
        return JobDone{};
      }
    }
    ovsplane_vs_increment_next_cfg(txn);
    return JobCommit{txn, [&done](JobContext& after, const TxnOutcome& outcome) -> JobStep {
                       switch (outcome.status) {
                         case TxnOutcome::Status::Success:
                           done.set(outcome.nextCfg);
                           return JobDone{};
                         case TxnOutcome::Status::Unchanged: {
                           // Nothing to change, so nothing was sent: the current config counts.
                           long long next = 0;
                           long long cur = 0;
                           done.set(ovsplane_vs_cfg(after.idl(), &next, &cur) ? next : 0);
                           return JobDone{};
                         }
                         case TxnOutcome::Status::TryAgain:
                           return JobRetryOnChange{};
                         case TxnOutcome::Status::Failed:
                           break;
                       }
                       done.set(makeError(ErrorCode::Backend,
                                          "Open_vSwitch transaction failed: " + outcome.error));
                       return JobDone{};
                     }};
  });
  return future.get();
}

Result<void> Switch::waitApplied(int64_t nextCfg, std::chrono::milliseconds timeout) {
  auto future = client_.submit<std::monostate>(
      [nextCfg](JobContext& context, IdlClient::Completion<std::monostate>& done) -> JobStep {
        long long next = 0;
        long long cur = 0;
        if (ovsplane_vs_cfg(context.idl(), &next, &cur) && cur >= nextCfg) {
          done.set(std::monostate{});
          return JobDone{};
        }
        return JobRetryOnChange{};
      },
      timeout);
  auto result = future.get();
  if (!result) {
    if (result.error().code == ErrorCode::Timeout) {
      return makeError(ErrorCode::Timeout,
                       fmt::format("ovs-vswitchd did not apply configuration {} within {} ms: is "
                                   "ovs-vswitchd running against {}?",
                                   nextCfg, timeout.count(), client_.options().remote));
    }
    return std::unexpected(result.error());
  }
  return {};
}

Result<SwitchState> Switch::snapshot() {
  auto future = client_.submit<SwitchState>(
      [](JobContext& context, IdlClient::Completion<SwitchState>& done) -> JobStep {
        SwitchState state;
        ovsplane_vs_list(context.idl(), collectBridge, collectPort, &state);
        done.set(std::move(state));
        return JobDone{};
      });
  return future.get();
}

Result<SwitchState> Switch::listOwned() {
  auto all = snapshot();
  if (!all) {
    return all;
  }
  SwitchState owned;
  for (auto& bridge : all->bridges) {
    if (isOwned(bridge.externalIds)) owned.bridges.push_back(std::move(bridge));
  }
  for (auto& port : all->ports) {
    if (isOwned(port.externalIds)) owned.ports.push_back(std::move(port));
  }
  return owned;
}

}  // namespace ovsplane::ovsdb
