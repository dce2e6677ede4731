#include "netdrv/host_firewall.h"

#include <nftables/libnftables.h>

#include <fstream>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace ovsplane::netdrv {
namespace {

constexpr const char* kTable = "ip ovsplane";

std::string elements(const std::vector<ipam::Subnet>& subnets) {
  std::string out;
  for (const auto& subnet : subnets) {
    if (!out.empty()) out += ", ";
    out += subnet.toString();
  }
  return out;
}

/** One libnftables context, its output and errors buffered. */
class NftContext {
 public:
  NftContext() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_ != nullptr) {
      nft_ctx_buffer_output(ctx_);
      nft_ctx_buffer_error(ctx_);
    }
  }
  ~NftContext() {
    if (ctx_ != nullptr) nft_ctx_free(ctx_);
  }
  NftContext(const NftContext&) = delete;
  NftContext& operator=(const NftContext&) = delete;

  /** Runs `commands`; the output on success, the error text on failure. */
  Result<std::string> run(const std::string& commands) {
    if (ctx_ == nullptr) return makeError(ErrorCode::Unavailable, "nftables: no context");
    const int rc = nft_run_cmd_from_buffer(ctx_, commands.c_str());
    const char* output = nft_ctx_get_output_buffer(ctx_);
    const char* error = nft_ctx_get_error_buffer(ctx_);
    if (rc != 0) {
      return makeError(ErrorCode::Unavailable,
                       fmt::format("nftables: {}", error != nullptr && *error ? error : "failed"));
    }
    return std::string(output != nullptr ? output : "");
  }

 private:
  nft_ctx* ctx_;
};

Result<void> enableForwarding() {
  const char* path = "/proc/sys/net/ipv4/ip_forward";
  std::string current;
  {
    std::ifstream in(path);
    std::getline(in, current);
  }
  if (current == "1") return {};
  std::ofstream out(path);
  out << "1\n";
  out.flush();
  if (!out) {
    return makeError(ErrorCode::Unavailable,
                     fmt::format("IPv4 forwarding is off and {} is not writable: egress needs "
                                 "it (sysctl -w net.ipv4.ip_forward=1 on the host, or run "
                                 "ovsplane's container with --privileged)",
                                 path));
  }
  spdlog::info("IPv4 forwarding turned on (net.ipv4.ip_forward was {}) for egress NAT", current);
  return {};
}

class NftablesFirewall final : public HostFirewall {
 public:
  Result<bool> apply(const FirewallPlan& plan) override {
    std::scoped_lock lock(mutex_);
    NftContext nft;
    const std::string wanted = nftablesRuleset(plan);
    auto listing = nft.run(fmt::format("list table {}", kTable));
    const std::string current = listing ? *listing : "";
    // Forwarding first on every call (one read): someone may turn it off again.
    Result<void> forwarding{};
    if (!plan.natNetworks.empty()) forwarding = enableForwarding();
    if (wanted == appliedRuleset_ && current == appliedListing_) {
      if (!forwarding) return std::unexpected(forwarding.error());
      return false;
    }
    // Create-if-missing, then replace as a whole: one transaction, never a table half-made. No
    // table wanted: deleted, when there is one.
    std::string commands;
    if (!wanted.empty()) {
      commands = fmt::format("table {0} {{}}\ndelete table {0}\n{1}", kTable, wanted);
    } else if (listing) {
      commands = fmt::format("delete table {}", kTable);
    }
    if (!commands.empty()) {
      if (auto written = nft.run(commands); !written) {
        return std::unexpected(written.error());
      }
    }
    appliedRuleset_ = wanted;
    appliedListing_.clear();
    if (!wanted.empty()) {
      auto after = nft.run(fmt::format("list table {}", kTable));
      if (after) appliedListing_ = *after;
    }
    if (!forwarding) return std::unexpected(forwarding.error());
    return !commands.empty();
  }

 private:
  std::mutex mutex_;
  std::string appliedRuleset_;  // "" before the first apply, as for an empty plan
  std::string appliedListing_;  // what `list table` printed right after ("": no table)
};

}  // namespace

std::string nftablesRuleset(const FirewallPlan& plan) {
  if (plan.natNetworks.empty() && (plan.gatewayNetworks.size() < 2 || !plan.isolate)) return "";
  std::string out = fmt::format("table {} {{\n", kTable);
  if (plan.isolate && plan.gatewayNetworks.size() >= 2) {
    out += fmt::format(
        "  set networks {{\n    type ipv4_addr\n    flags interval\n    elements = {{ {} }}\n  }}\n"
        "  chain forward {{\n    type filter hook forward priority filter; policy accept;\n"
        "    ip saddr @networks ip daddr @networks drop\n  }}\n",
        elements(plan.gatewayNetworks));
  }
  if (!plan.natNetworks.empty()) {
    out += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    for (const auto& subnet : plan.natNetworks) {
      out += fmt::format("    ip saddr {0} ip daddr != {0} masquerade\n", subnet.toString());
    }
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

std::shared_ptr<HostFirewall> makeNftablesFirewall() {
  return std::make_shared<NftablesFirewall>();
}

}  // namespace ovsplane::netdrv
