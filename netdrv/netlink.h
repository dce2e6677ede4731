#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ipam/ipv4.h"
#include "netdrv/error.h"

namespace ovsplane::netdrv {

/** A network namespace: the one of a process (by pid), or a bind-mounted file such as
 *  /run/netns/NAME or /proc/PID/ns/net. */
class NamespaceRef {
 public:
  static NamespaceRef ofPid(pid_t pid) { return NamespaceRef(pid); }
  static NamespaceRef ofPath(std::string path) { return NamespaceRef(std::move(path)); }
  /** /proc/<pid>/ns/net or the path. */
  std::string path() const;

 private:
  explicit NamespaceRef(std::variant<pid_t, std::string> where) : where_(std::move(where)) {}
  std::variant<pid_t, std::string> where_;
};

/** The container side of an endpoint: a veth pair whose host end stays in the caller's
 *  namespace and whose other end becomes `containerName` inside the container's namespace. */
struct VethSpec {
  std::string hostName;                ///< host end, e.g. "ovh0123456789ab" (<= 15 chars)
  std::string peerName;                ///< container end until renamed (<= 15 chars)
  std::string containerName = "eth0";  ///< its name inside the namespace
  std::array<uint8_t, 6> mac{};        ///< container end's MAC
  uint32_t mtu = 1450;                 ///< both ends
  ipam::Ipv4Address address;           ///< container end's address
  int prefixLength = 24;
  std::optional<ipam::Ipv4Address> gateway;  ///< default route via, when set
  /** Turn TX checksum offload off on the container end: needed with OVS's userspace (netdev)
   *  datapath, where offloaded checksums leave TCP segments with bad checksums. */
  bool disableTxChecksum = false;
};

/** What linkInfo() reads of a link. */
struct LinkInfo {
  std::array<uint8_t, 6> mac{};  ///< all zero when the link has no 6-byte address
  uint32_t mtu = 0;
};

/**
 * Host networking through rtnetlink (libnl-3 route). The "host" namespace is the namespace of
 * the calling thread; the container namespace is entered only by short-lived private threads,
 * never by the caller's thread.
 */
class Netlink {
 public:
  virtual ~Netlink() = default;

  /**
   * Creates the veth pair of `spec`, moves its container end into `ns` and configures it there
   * (name, MAC, MTU, address, lo and the interface up, default route). Idempotent: an existing
   * host end of that name (an earlier attempt, a previous namespace) is deleted first. On
   * failure nothing of the pair is left. Errors: NotFound (namespace gone), Unavailable.
   */
  virtual Result<void> wireContainer(const VethSpec& spec, const NamespaceRef& ns) = 0;

  /**
   * Creates the veth pair of `spec` in the caller's namespace for someone else to move (Docker,
   * on the plugin path): the host end up and answering no ARP, the peer down with `spec.mac`,
   * `spec.mtu` and, when asked, TX checksum off; address, route and containerName are not used.
   * Idempotent as wireContainer (an existing host end is replaced); on failure nothing is left.
   */
  virtual Result<void> createVeth(const VethSpec& spec) = 0;

  /** Deletes a link of the caller's namespace (a veth takes its peer along). "Not found" is
   *  success. */
  virtual Result<void> deleteLink(std::string_view name) = 0;

  /** Whether a link of that name exists in the caller's namespace. */
  virtual Result<bool> linkExists(std::string_view name) = 0;

  /** The MAC and MTU of a link in the caller's namespace, one read. NotFound when there is no
   *  such link. */
  virtual Result<LinkInfo> linkInfo(std::string_view name) = 0;

  /** The names of the caller's namespace's links that start with `prefix` (one dump). */
  virtual Result<std::vector<std::string>> listLinks(std::string_view prefix) = 0;

  /** Whether namespace `ns` has a link `name`. NotFound when the namespace is gone. */
  virtual Result<bool> linkExistsIn(const NamespaceRef& ns, std::string_view name) = 0;
  /**
   * Makes link `name` of the caller's namespace hold `address`/`prefixLength` as its only IPv4
   * address, and be up (a network's gateway: the kernel adds the route to the subnet).
   * Idempotent; returns true when it changed something. NotFound when there is no such link.
   */
  virtual Result<bool> ensureSoleAddress(std::string_view name, ipam::Ipv4Address address,
                                         int prefixLength) = 0;
  /** Removes every IPv4 address of link `name`; a missing link is success. Returns true when
   *  it removed one. */
  virtual Result<bool> flushAddresses(std::string_view name) = 0;
  /** Sets the MTU of link `name`, in the caller's namespace (`ns` empty) or in `ns`.
   *  NotFound when there is no such link (or namespace). */
  virtual Result<void> setLinkMtu(const std::optional<NamespaceRef>& ns, std::string_view name,
                                  uint32_t mtu) = 0;
};

using NetlinkPtr = std::shared_ptr<Netlink>;

/** The Linux implementation. Stateless; thread-safe (one netlink socket per call). */
NetlinkPtr makeLinuxNetlink();

}  // namespace ovsplane::netdrv
