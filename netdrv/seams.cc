#include "netdrv/seams.h"

#include "ovsdb/state_store.h"

namespace ovsplane::netdrv {
namespace {

Error fromOvsdb(const ovsdb::Error& error) {
  switch (error.code) {
    case ovsdb::ErrorCode::InvalidArgument:
      return Error{ErrorCode::InvalidRequest, error.message};
    case ovsdb::ErrorCode::NotFound:
      return Error{ErrorCode::NotFound, error.message};
    case ovsdb::ErrorCode::Conflict:
      return Error{ErrorCode::Conflict, error.message};
    default:
      return Error{ErrorCode::Unavailable, error.message};
  }
}

class OvsSwitchControl final : public SwitchControl {
 public:
  explicit OvsSwitchControl(std::shared_ptr<ovsdb::Switch> sw) : switch_(std::move(sw)) {}
  Result<int64_t> apply(const ovsdb::SwitchChanges& changes) override {
    auto result = switch_->apply(changes);
    if (!result) return std::unexpected(fromOvsdb(result.error()));
    return *result;
  }
  Result<void> waitApplied(int64_t nextCfg, std::chrono::milliseconds timeout) override {
    auto result = switch_->waitApplied(nextCfg, timeout);
    if (!result) return std::unexpected(fromOvsdb(result.error()));
    return {};
  }

 private:
  std::shared_ptr<ovsdb::Switch> switch_;
};

class StateCatalog final : public NetworkCatalog {
 public:
  StateCatalog(std::shared_ptr<ovsdb::StateStore> store, std::string self)
      : store_(std::move(store)), self_(std::move(self)) {}
  Result<NetworkInfo> ensureNetwork(const ipam::Subnet& subnet) override {
    auto record = store_->ensureNetwork(subnet);
    if (!record) return std::unexpected(fromOvsdb(record.error()));
    return NetworkInfo{subnet, record->vni};
  }
  Result<std::vector<PeerHost>> peers() override {
    auto hosts = store_->hosts();
    if (!hosts) return std::unexpected(fromOvsdb(hosts.error()));
    std::vector<PeerHost> out;
    for (const auto& host : *hosts) {
      if (host.name != self_) out.push_back(PeerHost{host.name, host.vtepIp});
    }
    return out;
  }

 private:
  std::shared_ptr<ovsdb::StateStore> store_;
  std::string self_;
};

}  // namespace

std::shared_ptr<SwitchControl> makeOvsSwitchControl(std::shared_ptr<ovsdb::Switch> sw) {
  return std::make_shared<OvsSwitchControl>(std::move(sw));
}

std::shared_ptr<NetworkCatalog> makeStateCatalog(std::shared_ptr<ovsdb::StateStore> store,
                                                 std::string selfName) {
  return std::make_shared<StateCatalog>(std::move(store), std::move(selfName));
}

}  // namespace ovsplane::netdrv
