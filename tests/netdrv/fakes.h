#pragma once
// Test doubles for the driver's seams: in-memory, with a failure switch per operation.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "netdrv/netlink.h"
#include "netdrv/seams.h"

namespace ovsplane::netdrv::testing {

/** Operations named here fail with ErrorCode::Unavailable ("<op> failed (injected)"). */
class FailureSwitch {
 public:
  void failOn(std::string op) { failing_.insert(std::move(op)); }
  void clear() { failing_.clear(); }
  std::unexpected<Error> failure(const std::string& op) const {
    return makeError(ErrorCode::Unavailable, op + " failed (injected)");
  }
  bool fails(const std::string& op) const { return failing_.contains(op); }

 private:
  std::set<std::string> failing_;
};

class FakeRuntime final : public ContainerRuntime, public FailureSwitch {
 public:
  struct Container {
    RuntimeContainer info;
    nlohmann::json body;
  };
  std::map<std::string, Container> containers;  // by id
  int nextPid = 1000;
  int nextId = 1;
  int64_t createdMs = 0;             ///< what create() records as the creation time (0: unknown)
  std::vector<RuntimeEvent> events;  ///< what followEvents() delivers, then it returns
  mutable std::mutex mutex;

  std::atomic<int> createCalls{0};
  Result<std::string> create(const nlohmann::json& body, const std::string& name) override {
    ++createCalls;
    if (fails("create")) return failure("create");
    std::scoped_lock lock(mutex);
    for (const auto& [id, c] : containers) {
      if (!name.empty() && c.info.name == name) {
        return makeError(ErrorCode::Conflict, "name " + name + " is in use");
      }
    }
    const std::string id = "c" + std::to_string(nextId++) + std::string(60, '0');
    RuntimeContainer info{id, name, false, 0, {}, "", "", createdMs};
    if (body.contains("Labels")) {
      for (const auto& [k, v] : body["Labels"].items()) info.labels[k] = v.get<std::string>();
    }
    containers[id] = Container{info, body};
    return id;
  }
  Result<void> start(const std::string& id) override {
    if (fails("start")) return failure("start");
    std::scoped_lock lock(mutex);
    auto it = containers.find(id);
    if (it == containers.end()) return makeError(ErrorCode::NotFound, "no container " + id);
    if (!it->second.info.running) {
      it->second.info.running = true;
      it->second.info.pid = nextPid++;
    }
    return {};
  }
  std::atomic<int> inspectCalls{0};
  Result<RuntimeContainer> inspect(const std::string& ref) override {
    ++inspectCalls;
    if (fails("inspect")) return failure("inspect");
    std::scoped_lock lock(mutex);
    for (const auto& [id, c] : containers) {
      if (id == ref || c.info.name == ref || (ref.size() >= 4 && id.starts_with(ref))) {
        return c.info;
      }
    }
    return makeError(ErrorCode::NotFound, "no such container: " + ref);
  }
  Result<void> remove(const std::string& id) override {
    if (fails("remove")) return failure("remove");
    std::scoped_lock lock(mutex);
    containers.erase(id);
    return {};
  }
  std::atomic<int> renameCalls{0};
  Result<void> rename(const std::string& id, const std::string& name) override {
    ++renameCalls;
    if (fails("rename")) return failure("rename");
    std::scoped_lock lock(mutex);
    for (const auto& [other, c] : containers) {
      if (other != id && c.info.name == name) {
        return makeError(ErrorCode::Conflict, "name " + name + " is in use");
      }
    }
    auto it = containers.find(id);
    if (it == containers.end()) return makeError(ErrorCode::NotFound, "no container " + id);
    it->second.info.name = name;
    return {};
  }
  Result<std::vector<RuntimeContainer>> list(
      const std::map<std::string, std::string>& labels) override {
    if (fails("list")) return failure("list");
    std::scoped_lock lock(mutex);
    std::vector<RuntimeContainer> out;
    for (const auto& [id, c] : containers) {
      bool all = true;
      for (const auto& [k, v] : labels) {
        auto it = c.info.labels.find(k);
        all = all && it != c.info.labels.end() && (v.empty() || it->second == v);
      }
      if (all) out.push_back(c.info);
    }
    return out;
  }
  std::vector<RuntimeNetwork> networks;  ///< what listNetworks() reports (any driver)
  Result<std::vector<RuntimeNetwork>> listNetworks(const std::string& driver) override {
    if (fails("listNetworks")) return failure("listNetworks");
    std::scoped_lock lock(mutex);
    std::vector<RuntimeNetwork> out;
    for (const auto& network : networks) {
      if (network.driver == driver) out.push_back(network);
    }
    return out;
  }
  Result<std::string> ensurePauseImage() override {
    if (fails("ensurePauseImage")) return failure("ensurePauseImage");
    return std::string("ovsplane/pause:1");
  }
  Result<void> followEvents(const std::string&, const std::function<void()>& onConnected,
                            const std::function<bool(const RuntimeEvent&)>& onEvent,
                            std::stop_token) override {
    if (fails("events")) return failure("events");
    if (onConnected) onConnected();
    for (const auto& event : events) {
      if (!onEvent(event)) break;
    }
    return {};
  }
  /** Simulates the network-only container restarting with a new namespace. */
  void restart(const std::string& id) {
    std::scoped_lock lock(mutex);
    containers[id].info.running = true;
    containers[id].info.pid = nextPid++;
  }
  void stop(const std::string& id) {
    std::scoped_lock lock(mutex);
    containers[id].info.running = false;
    containers[id].info.pid = 0;
  }
};

class FakeNetlink final : public Netlink, public FailureSwitch {
 public:
  std::map<std::string, std::pair<VethSpec, std::string>> links;  // host end -> spec, namespace
  int wireCalls = 0;
  std::mutex mutex;

  Result<void> wireContainer(const VethSpec& spec, const NamespaceRef& ns) override {
    if (fails("wire")) return failure("wire");
    std::scoped_lock lock(mutex);
    ++wireCalls;
    links[spec.hostName] = {spec, ns.path()};
    return {};
  }
  Result<void> createVeth(const VethSpec& spec) override {
    if (fails("createVeth")) return failure("createVeth");
    std::scoped_lock lock(mutex);
    links[spec.hostName] = {spec, "host"};
    return {};
  }
  Result<void> deleteLink(std::string_view name) override {
    if (fails("deleteLink")) return failure("deleteLink");
    std::scoped_lock lock(mutex);
    links.erase(std::string(name));
    return {};
  }
  Result<bool> linkExists(std::string_view name) override {
    std::scoped_lock lock(mutex);
    return links.contains(std::string(name));
  }
  /** What linkInfo() reports as a link's MTU (1500 for others). */
  std::map<std::string, uint32_t> linkMtus;
  /** listLinks() sees none of the host ends (a process in another network namespace). */
  bool hostEndsElsewhere = false;
  Result<std::vector<std::string>> listLinks(std::string_view prefix) override {
    if (fails("listLinks")) return failure("listLinks");
    std::scoped_lock lock(mutex);
    std::vector<std::string> out;
    if (hostEndsElsewhere) return out;
    for (const auto& [name, link] : links) {
      if (name.starts_with(prefix)) out.push_back(name);
    }
    return out;
  }
  /** Namespaces (paths) whose container end is gone although the host end stays. */
  std::set<std::string> emptyNamespaces;
  /** Addresses ensureSoleAddress() put on links (gateways), by link name. */
  std::map<std::string, std::string> addresses;
  Result<LinkInfo> linkInfo(std::string_view name) override {
    std::scoped_lock lock(mutex);
    if (!gatewayMacs.contains(std::string(name))) {
      return makeError(ErrorCode::NotFound, "no link " + std::string(name));
    }
    auto mtu = linkMtus.find(std::string(name));
    return LinkInfo{gatewayMacs[std::string(name)], mtu == linkMtus.end() ? 1500U : mtu->second};
  }
  /** Links linkInfo() knows (bridges' LOCAL ports, as the test says ovs-vswitchd made them). */
  std::map<std::string, std::array<uint8_t, 6>> gatewayMacs;
  Result<bool> ensureSoleAddress(std::string_view name, ipam::Ipv4Address address,
                                 int prefixLength) override {
    if (fails("ensureSoleAddress")) return failure("ensureSoleAddress");
    std::scoped_lock lock(mutex);
    if (!gatewayMacs.contains(std::string(name))) {
      return makeError(ErrorCode::NotFound, "no link " + std::string(name));
    }
    const std::string wanted = address.toString() + "/" + std::to_string(prefixLength);
    const bool changed = addresses[std::string(name)] != wanted;
    addresses[std::string(name)] = wanted;
    return changed;
  }
  /** setLinkMtu() calls: "<namespace path or host>/<link>" -> MTU. */
  std::map<std::string, uint32_t> mtus;
  Result<void> setLinkMtu(const std::optional<NamespaceRef>& ns, std::string_view name,
                          uint32_t mtu) override {
    if (fails("setLinkMtu")) return failure("setLinkMtu");
    std::scoped_lock lock(mutex);
    mtus[(ns ? ns->path() : std::string("host")) + "/" + std::string(name)] = mtu;
    return {};
  }
  Result<bool> flushAddresses(std::string_view name) override {
    std::scoped_lock lock(mutex);
    return addresses.erase(std::string(name)) > 0;
  }
  Result<bool> linkExistsIn(const NamespaceRef& ns, std::string_view) override {
    std::scoped_lock lock(mutex);
    if (emptyNamespaces.contains(ns.path())) return false;
    for (const auto& [name, link] : links) {
      if (link.second == ns.path()) return true;
    }
    return false;
  }
};

class FakeSwitch final : public SwitchControl, public FailureSwitch {
 public:
  std::set<std::string> bridges;
  std::map<std::string, ovsdb::BridgeSpec> bridgeSpecs;  // the last ensureBridge of each
  std::map<std::string, ovsdb::PortSpec> ports;          // by name
  int transactions = 0;
  std::mutex mutex;

  Result<int64_t> apply(const ovsdb::SwitchChanges& changes) override {
    if (fails("apply")) return failure("apply");
    std::scoped_lock lock(mutex);
    ++transactions;
    for (const auto& op : changes.ops()) {
      switch (op.kind) {
        case ovsdb::SwitchChanges::Kind::EnsureBridge:
          bridges.insert(op.bridge.name);
          bridgeSpecs[op.bridge.name] = op.bridge;
          break;
        case ovsdb::SwitchChanges::Kind::DeleteBridge:
          bridges.erase(op.bridge.name);
          break;
        case ovsdb::SwitchChanges::Kind::EnsurePort:
          if (!bridges.contains(op.port.bridge)) {
            return makeError(ErrorCode::NotFound, "no bridge " + op.port.bridge);
          }
          ports[op.port.name] = op.port;
          break;
        case ovsdb::SwitchChanges::Kind::DeletePort:
          ports.erase(op.port.name);
          break;
      }
    }
    return transactions;
  }
  int waitCalls = 0;
  Result<void> waitApplied(int64_t, std::chrono::milliseconds) override {
    ++waitCalls;
    if (fails("waitApplied")) return failure("waitApplied");
    return {};
  }
  Result<std::vector<ovsdb::PortInfo>> ownedPorts() override {
    std::scoped_lock lock(mutex);
    std::vector<ovsdb::PortInfo> out;
    for (const auto& [name, port] : ports) {
      out.push_back(ovsdb::PortInfo{name, port.bridge, port.type, port.options, port.externalIds,
                                    port.isProtected, -1});
    }
    return out;
  }
  /** Ports other than tunnels (access ports of endpoints). */
  size_t accessPorts() {
    std::scoped_lock lock(mutex);
    size_t n = 0;
    for (const auto& [name, port] : ports) n += port.type.empty();
    return n;
  }
};

class FakeCatalog final : public NetworkCatalog, public FailureSwitch {
 public:
  std::map<std::string, uint32_t> vnis;
  std::vector<PeerHost> peerHosts;
  std::mutex mutex;

  std::map<std::string, NetworkInfo> created;  // by CIDR
  Result<NetworkInfo> ensureNetwork(const ipam::Subnet& subnet,
                                    const NetworkOptions& options) override {
    if (fails("ensureNetwork")) return failure("ensureNetwork");
    std::scoped_lock lock(mutex);
    auto [it, inserted] =
        vnis.try_emplace(subnet.toString(), 4096 + static_cast<uint32_t>(vnis.size()));
    auto [info, fresh] =
        created.try_emplace(subnet.toString(), NetworkInfo{subnet, it->second, options.nat});
    return info->second;
  }
  Result<std::vector<NetworkInfo>> networks() override {
    if (fails("networks")) return failure("networks");
    std::scoped_lock lock(mutex);
    std::vector<NetworkInfo> out;
    for (const auto& [cidr, info] : created) out.push_back(info);
    return out;
  }
  Result<std::vector<PeerHost>> peers() override {
    if (fails("peers")) return failure("peers");
    return peerHosts;
  }
  /** What hostAddresses() reports: the test fills it from the address store. */
  std::function<std::vector<HostAddress>()> addressesOfHost = [] {
    return std::vector<HostAddress>{};
  };
  std::vector<std::string> announced;
  Result<std::vector<HostAddress>> hostAddresses() override {
    if (fails("hostAddresses")) return failure("hostAddresses");
    return addressesOfHost();
  }
  Result<void> announce(const std::string& vtepIp) override {
    std::scoped_lock lock(mutex);
    announced.push_back(vtepIp);
    return {};
  }
  Result<void> withdraw() override { return {}; }
};

}  // namespace ovsplane::netdrv::testing
