#include "netdrv/seams.h"

#include <algorithm>
#include <mutex>

#include "common/wall_clock.h"
#include "netdrv/docker_client.h"
#include "netdrv/peer_liveness.h"
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
  Result<std::vector<ovsdb::PortInfo>> ownedPorts() override {
    auto owned = switch_->listOwned();
    if (!owned) return std::unexpected(fromOvsdb(owned.error()));
    return std::move(owned->ports);
  }

 private:
  std::shared_ptr<ovsdb::Switch> switch_;
};

class StateCatalog final : public NetworkCatalog {
 public:
  StateCatalog(std::shared_ptr<ovsdb::StateStore> store, std::string self,
               std::chrono::milliseconds staleAfter)
      : store_(std::move(store)), self_(std::move(self)), liveness_(staleAfter) {}
  Result<NetworkInfo> ensureNetwork(const ipam::Subnet& subnet,
                                    const NetworkOptions& options) override {
    auto record = store_->ensureNetwork(subnet, std::nullopt, options.nat);
    if (!record) return std::unexpected(fromOvsdb(record.error()));
    return NetworkInfo{subnet, record->vni, record->nat};
  }
  Result<std::vector<NetworkInfo>> networks() override {
    auto records = store_->networks();
    if (!records) return std::unexpected(fromOvsdb(records.error()));
    std::vector<NetworkInfo> out;
    for (const auto& record : *records) {
      // "10.0.6.0/24" with gateway "10.0.6.1" is the subnet "10.0.6.1/24".
      const auto slash = record.cidr.find('/');
      if (slash == std::string::npos) continue;
      auto subnet = ipam::Subnet::parse(record.gateway + record.cidr.substr(slash));
      if (!subnet) continue;  // not written by ovsplane: not a network to serve
      out.push_back(NetworkInfo{*subnet, record.vni, record.nat});
    }
    return out;
  }
  Result<std::vector<PeerHost>> peers() override {
    auto hosts = store_->hosts();
    if (!hosts) return std::unexpected(fromOvsdb(hosts.error()));
    const int64_t wallNow = wallClockMs();
    std::vector<std::string> alive;
    {
      std::scoped_lock lock(mutex_);
      alive = liveness_.observe(*hosts, wallNow, PeerLiveness::Clock::now());
    }
    std::vector<PeerHost> out;
    for (const auto& host : *hosts) {
      const bool sharesATunnel = std::any_of(
          out.begin(), out.end(), [&](const PeerHost& peer) { return peer.vtepIp == host.vtepIp; });
      if (host.name != self_ && !host.vtepIp.empty() && !sharesATunnel &&
          std::find(alive.begin(), alive.end(), host.name) != alive.end()) {
        out.push_back(PeerHost{host.name, host.vtepIp});
      }
    }
    return out;
  }
  Result<std::vector<HostAddress>> hostAddresses() override {
    auto rows = store_->addresses();
    if (!rows) return std::unexpected(fromOvsdb(rows.error()));
    std::vector<HostAddress> out;
    for (const auto& row : *rows) {
      if (row.host != self_) continue;
      auto subnet = ipam::Subnet::parse(row.cidr);
      auto ip = ipam::Ipv4Address::parse(row.ip);
      if (!subnet || !ip) continue;  // not a row ovsplane could have written
      out.push_back(HostAddress{*subnet, *ip, row.owner, row.createdAtMs});
    }
    return out;
  }
  Result<void> announce(const std::string& vtepIp) override {
    auto done = store_->registerHost(self_, vtepIp);
    if (!done) return std::unexpected(fromOvsdb(done.error()));
    return {};
  }
  Result<void> withdraw() override {
    auto done = store_->removeHost(self_);
    if (!done) return std::unexpected(fromOvsdb(done.error()));
    return {};
  }

 private:
  std::shared_ptr<ovsdb::StateStore> store_;
  std::string self_;
  std::mutex mutex_;
  PeerLiveness liveness_;
};

RuntimeContainer toRuntime(const ContainerInfo& info) {
  return RuntimeContainer{
      info.id,     info.name,          info.running,    static_cast<pid_t>(info.pid),
      info.labels, info.restartPolicy, info.stateError, info.createdMs};
}

class DockerRuntime final : public ContainerRuntime {
 public:
  explicit DockerRuntime(std::shared_ptr<DockerClient> client) : client_(std::move(client)) {}
  Result<std::string> create(const nlohmann::json& body, const std::string& name) override {
    return client_->createContainer(body, name);
  }
  Result<void> start(const std::string& id) override { return client_->startContainer(id); }
  Result<RuntimeContainer> inspect(const std::string& idOrName) override {
    auto info = client_->inspectContainer(idOrName);
    if (!info) return std::unexpected(info.error());
    return toRuntime(*info);
  }
  Result<void> remove(const std::string& id) override { return client_->removeContainer(id, true); }
  Result<void> rename(const std::string& id, const std::string& name) override {
    return client_->renameContainer(id, name);
  }
  Result<std::vector<RuntimeContainer>> list(
      const std::map<std::string, std::string>& labels) override {
    auto found = client_->listContainers(labels, true);
    if (!found) return std::unexpected(found.error());
    std::vector<RuntimeContainer> out;
    for (const auto& info : *found) out.push_back(toRuntime(info));
    return out;
  }
  Result<std::vector<RuntimeNetwork>> listNetworks(const std::string& driver) override {
    return client_->listNetworks(driver);
  }
  Result<std::string> ensurePauseImage() override {
    if (auto ensured = client_->ensurePauseImage(); !ensured)
      return std::unexpected(ensured.error());
    return std::string(kPauseImage);
  }
  Result<void> followEvents(const std::string& label, const std::function<void()>& onConnected,
                            const std::function<bool(const RuntimeEvent&)>& onEvent,
                            std::stop_token stop) override {
    return client_->followEvents(
        {{label, ""}},
        [&](const nlohmann::json& line) {
          // Other events (and ones without a container id) are not the driver's business.
          auto event = containerEventFrom(line);
          if (!event) return true;
          return onEvent(RuntimeEvent{std::move(event->action), std::move(event->id),
                                      std::move(event->attributes)});
        },
        stop, onConnected);
  }

 private:
  std::shared_ptr<DockerClient> client_;
};

}  // namespace

std::shared_ptr<ContainerRuntime> makeDockerRuntime(std::shared_ptr<DockerClient> client) {
  return std::make_shared<DockerRuntime>(std::move(client));
}

std::shared_ptr<SwitchControl> makeOvsSwitchControl(std::shared_ptr<ovsdb::Switch> sw) {
  return std::make_shared<OvsSwitchControl>(std::move(sw));
}

std::shared_ptr<NetworkCatalog> makeStateCatalog(std::shared_ptr<ovsdb::StateStore> store,
                                                 std::string selfName,
                                                 std::chrono::milliseconds staleAfter) {
  return std::make_shared<StateCatalog>(std::move(store), std::move(selfName), staleAfter);
}

}  // namespace ovsplane::netdrv
