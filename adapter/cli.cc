#include "adapter/cli.h"

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "ipam/ipv4.h"
#include "ovsdb/schema_probe.h"

#ifndef OVSPLANE_VERSION
#error "OVSPLANE_VERSION must be defined by the build"
#endif

namespace ovsplane::adapter {
namespace {

constexpr const char* kDefaultOvsdb = "unix:/var/run/openvswitch/db.sock";

int runCidr(const std::vector<std::string>& cidrs, std::ostream& out, std::ostream& err) {
  int rc = 0;
  for (const std::string& text : cidrs) {
    auto subnet = ipam::Subnet::parse(text);
    if (!subnet) {
      err << "ovsplane: " << subnet.error().message << "\n";
      rc = 1;
      continue;
    }
    out << fmt::format("{}: network {} gateway {} broadcast {} assignable {}\n", text,
                       subnet->toString(), subnet->gateway().toString(),
                       subnet->broadcast().toString(), subnet->hostCount() - 1);
  }
  return rc;
}

int runOvsdbProbe(const std::string& remote, const std::string& database, int timeoutMs,
                  std::ostream& out, std::ostream& err) {
  const auto which = database == "state" ? ovsdb::Database::State : ovsdb::Database::OpenVSwitch;
  auto schema = ovsdb::probeServerSchema(remote, which, std::chrono::milliseconds(timeoutMs));
  if (!schema) {
    err << "ovsplane: " << schema.error() << "\n";
    return 1;
  }
  out << fmt::format("{} at {}: {} tables\n", schema->database, remote, schema->tables.size());
  for (const std::string& table : schema->tables) {
    out << "  " << table << "\n";
  }
  return 0;
}

}  // namespace

int runCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "ovsplane: multi-host overlay networking for Docker on Open vSwitch + VXLAN.\n"
      "Containers created with OVSPLANE_CIDR (or SOCKETPLANE_CIDR) in their environment join\n"
      "that CIDR's network on every host.",
      "ovsplane"};
  app.set_version_flag("--version", std::string("ovsplane ") + OVSPLANE_VERSION);
  app.require_subcommand(0, 1);

  std::vector<std::string> cidrs;
  auto* cidr = app.add_subcommand(
      "cidr", "Parse CIDRs as OVSPLANE_CIDR does and show network, gateway and broadcast");
  cidr->add_option("CIDR", cidrs, "e.g. 10.0.6.1/24 (gateway 10.0.6.1) or 10.0.6.0/24")->required();

  std::string remote = kDefaultOvsdb;
  std::string database = "open_vswitch";
  int timeoutMs = 3000;
  auto* probe = app.add_subcommand(
      "ovsdb-probe", "Connect to an OVSDB server and list the tables it serves of a known schema");
  probe->add_option("--db", remote, "OVSDB remote: unix:PATH or tcp:IP:PORT (comma-separated list)")
      ->envname("OVSPLANE_OVSDB")
      ->capture_default_str();
  probe->add_option("--database", database, "Schema to probe")
      ->check(CLI::IsMember({"open_vswitch", "state"}))
      ->capture_default_str();
  probe->add_option("--timeout-ms", timeoutMs, "Give up after this many milliseconds")
      ->check(CLI::Range(1, 600000))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }
  if (*cidr) {
    return runCidr(cidrs, out, err);
  }
  if (*probe) {
    return runOvsdbProbe(remote, database, timeoutMs, out, err);
  }
  out << app.help();
  return 0;
}

}  // namespace ovsplane::adapter
