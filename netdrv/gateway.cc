#include "netdrv/gateway.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "netdrv/naming.h"

namespace ovsplane::netdrv {
namespace {

class OpenFlowControl final : public GatewayFlowControl {
 public:
  explicit OpenFlowControl(std::shared_ptr<ovsdb::OpenFlow> flows) : flows_(std::move(flows)) {}
  Result<bool> ensure(const ovsdb::GatewayFlowSpec& spec) override {
    auto installed = flows_->ensureGatewayFlows(spec);
    if (!installed) return makeError(ErrorCode::Unavailable, installed.error().message);
    return *installed;
  }
  Result<void> remove(const std::string& bridge, uint32_t vni) override {
    auto removed = flows_->removeGatewayFlows(bridge, vni);
    if (!removed) return makeError(ErrorCode::Unavailable, removed.error().message);
    return {};
  }

 private:
  std::shared_ptr<ovsdb::OpenFlow> flows_;
};

}  // namespace

std::shared_ptr<GatewayFlowControl> makeOpenFlowControl(std::shared_ptr<ovsdb::OpenFlow> flows) {
  return std::make_shared<OpenFlowControl>(std::move(flows));
}

Gateways::Gateways(GatewayConfig config, GatewayDependencies dependencies)
    : config_(config), deps_(std::move(dependencies)) {}

void Gateways::reconcileOne(const NetworkInfo& network, Report& report) {
  const std::string bridge = bridgeName(network.vni);
  const std::string gateway = network.subnet.gateway().toString();
  auto fail = [&](const std::string& what, const Error& error) {
    report.failures.push_back(
        fmt::format("gateway {} on {}: {}: {}", gateway, bridge, what, error.message));
  };
  const auto wantedMac = gatewayMac(network.vni);
  auto port = deps_.netlink->linkInfo(bridge);
  if (!port) {
    // The bridge is not there yet (ovs-vswitchd has not made its port): the next pass.
    if (port.error().code != ErrorCode::NotFound) fail("reading its port", port.error());
    return;
  }
  if (port->mac != wantedMac || port->mtu != config_.mtu) {
    // A bridge made before gateways existed, other_config:hwaddr lost, or the overlay MTU
    // changed: shape its LOCAL port.
    ovsdb::SwitchChanges changes;
    changes.ensureBridge(
        networkBridge(network.subnet.toString(), network.vni, config_.datapath, config_.mtu));
    if (auto applied = deps_.ovs->apply(changes); !applied) {
      fail("setting its MAC and MTU", applied.error());
    } else {
      report.changes.push_back(fmt::format("gateway MAC {} and MTU {} asked of {}",
                                           gatewayMacString(network.vni), config_.mtu, bridge));
    }
    if (port->mac != wantedMac) return;  // the address follows once the port has the MAC
  }
  auto flows = deps_.flows->ensure(ovsdb::GatewayFlowSpec{
      .bridge = bridge, .vni = network.vni, .mac = wantedMac, .ip = network.subnet.gateway()});
  if (!flows) {
    fail("OpenFlow rules", flows.error());
  } else if (*flows) {
    report.changes.push_back(fmt::format("gateway flows installed on {}", bridge));
  }
  if (network.nat) {
    auto address = deps_.netlink->ensureSoleAddress(bridge, network.subnet.gateway(),
                                                    network.subnet.prefixLength());
    if (!address) {
      fail("its address", address.error());
    } else if (*address) {
      report.changes.push_back(
          fmt::format("gateway {}/{} up on {}", gateway, network.subnet.prefixLength(), bridge));
    }
  } else if (auto flushed = deps_.netlink->flushAddresses(bridge); !flushed) {
    fail("removing its address (sealed network)", flushed.error());
  } else if (*flushed) {
    report.changes.push_back(
        fmt::format("sealed network {}: no address on {}", network.subnet.toString(), bridge));
  }
}

void Gateways::retire(uint32_t vni, Report& report) {
  const std::string bridge = bridgeName(vni);
  auto exists = deps_.netlink->linkExists(bridge);
  if (!exists || !*exists) return;  // the bridge went with its last endpoint
  if (auto flushed = deps_.netlink->flushAddresses(bridge); flushed && *flushed) {
    report.changes.push_back(fmt::format("gateway removed from {} (no endpoint here)", bridge));
  }
  if (auto removed = deps_.flows->remove(bridge, vni); !removed) {
    spdlog::debug("removing the gateway flows of {}: {}", bridge, removed.error().message);
  }
}

void Gateways::setMtu(uint32_t mtu) {
  std::scoped_lock lock(mutex_);
  config_.mtu = mtu;
}

Gateways::Report Gateways::reconcile(const std::vector<NetworkInfo>& networks) {
  std::scoped_lock lock(mutex_);
  Report report;
  std::map<uint32_t, NetworkInfo> wanted;
  FirewallPlan plan{.natNetworks = {}, .gatewayNetworks = {}, .isolate = config_.isolateNetworks};
  for (const NetworkInfo& network : networks) {
    wanted[network.vni] = network;
    reconcileOne(network, report);
    if (network.nat) {
      plan.natNetworks.push_back(network.subnet);
      plan.gatewayNetworks.push_back(network.subnet);
    }
  }
  for (const auto& [vni, network] : served_) {
    if (!wanted.contains(vni)) retire(vni, report);
  }
  served_ = std::move(wanted);
  auto firewall = deps_.firewall->apply(plan);
  if (!firewall) {
    report.failures.push_back(fmt::format("host firewall: {}", firewall.error().message));
  } else if (*firewall) {
    report.changes.push_back(fmt::format("host firewall: NAT for {} network(s), {} isolated",
                                         plan.natNetworks.size(),
                                         plan.isolate ? plan.gatewayNetworks.size() : 0));
  }
  return report;
}

}  // namespace ovsplane::netdrv
