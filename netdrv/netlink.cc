#include "netdrv/netlink.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/ip.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace ovsplane::netdrv {

std::string NamespaceRef::path() const {
  if (const auto* pid = std::get_if<pid_t>(&where_)) {
    return fmt::format("/proc/{}/ns/net", *pid);
  }
  return std::get<std::string>(where_);
}

namespace {

/** Owns a file descriptor. */
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct SocketDeleter {
  void operator()(nl_sock* sock) const { nl_socket_free(sock); }
};
using SocketPtr = std::unique_ptr<nl_sock, SocketDeleter>;
struct LinkDeleter {
  void operator()(rtnl_link* link) const { rtnl_link_put(link); }
};
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
struct AddrDeleter {
  void operator()(nl_addr* addr) const { nl_addr_put(addr); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;

std::unexpected<Error> netlinkError(std::string what, int nlError) {
  return makeError(ErrorCode::Unavailable, fmt::format("{}: {}", what, nl_geterror(nlError)));
}

/** A connected NETLINK_ROUTE socket in the calling thread's namespace. */
Result<SocketPtr> openRouteSocket() {
  SocketPtr sock(nl_socket_alloc());
  if (!sock) {
    return makeError(ErrorCode::Unavailable, "netlink: out of memory");
  }
  if (int rc = nl_connect(sock.get(), NETLINK_ROUTE); rc < 0) {
    return netlinkError("netlink: connect", rc);
  }
  return sock;
}

/** Sockets created inside another network namespace by a private thread that entered it; the
 *  caller's thread never changes namespace. The sockets stay bound to that namespace. */
struct NamespaceSockets {
  SocketPtr route;
  Fd inet;   ///< AF_INET datagram socket for ethtool ioctls there
  Fd netns;  ///< the namespace itself (IFLA_NET_NS_FD: links created straight into it)
  std::string path;
};

Result<NamespaceSockets> socketsIn(const NamespaceRef& ns) {
  const std::string path = ns.path();
  Fd nsFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!nsFd) {
    return makeError(errno == ENOENT ? ErrorCode::NotFound : ErrorCode::Unavailable,
                     fmt::format("network namespace {}: {}", path, std::strerror(errno)));
  }
  Result<NamespaceSockets> result = makeError(ErrorCode::Internal, "namespace thread did not run");
  std::thread worker([&] {
    if (setns(nsFd.get(), CLONE_NEWNET) != 0) {
      result = makeError(ErrorCode::Unavailable, fmt::format("entering network namespace {}: {}",
                                                             path, std::strerror(errno)));
      return;
    }
    auto sock = openRouteSocket();
    if (!sock) {
      result = std::unexpected(sock.error());
      return;
    }
    Fd inet(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!inet) {
      result = makeError(ErrorCode::Unavailable, fmt::format("socket in network namespace {}: {}",
                                                             path, std::strerror(errno)));
      return;
    }
    result = NamespaceSockets{std::move(*sock), std::move(inet), Fd(), path};
  });
  worker.join();  // the thread (and its namespace membership) ends here
  if (result) result->netns = std::move(nsFd);
  return result;
}

Result<LinkPtr> getLink(nl_sock* sock, std::string_view name) {
  rtnl_link* link = nullptr;
  const std::string copy(name);
  const int rc = rtnl_link_get_kernel(sock, 0, copy.c_str(), &link);
  if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) {
    return makeError(ErrorCode::NotFound, fmt::format("link {} does not exist", name));
  }
  if (rc < 0) {
    return netlinkError(fmt::format("netlink: get link {}", name), rc);
  }
  return LinkPtr(link);
}

Result<void> deleteLinkIn(nl_sock* sock, std::string_view name) {
  auto link = getLink(sock, name);
  if (!link) {
    return link.error().code == ErrorCode::NotFound ? Result<void>{}
                                                    : std::unexpected(link.error());
  }
  const int rc = rtnl_link_delete(sock, link->get());
  if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NODEV) {
    return netlinkError(fmt::format("netlink: delete link {}", name), rc);
  }
  return {};
}

/** ethtool -K <name> tx off, through `inetSocket` (an AF_INET socket of the link's namespace). */
Result<void> disableTxChecksum(int inetSocket, std::string_view name) {
  ethtool_value value{};
  value.cmd = ETHTOOL_STXCSUM;
  value.data = 0;
  ifreq request{};
  std::snprintf(request.ifr_name, sizeof request.ifr_name, "%.*s", static_cast<int>(name.size()),
                name.data());
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (ioctl(inetSocket, SIOCETHTOOL, &request) != 0) {
    return makeError(
        ErrorCode::Unavailable,
        fmt::format("ethtool: turning TX checksum off on {}: {}", name, std::strerror(errno)));
  }
  return {};
}

Result<void> changeLink(nl_sock* sock, rtnl_link* current, rtnl_link* changes,
                        std::string_view what) {
  if (int rc = rtnl_link_change(sock, current, changes, 0); rc < 0) {
    return netlinkError(fmt::format("netlink: {}", what), rc);
  }
  return {};
}

Result<void> setUp(nl_sock* sock, std::string_view name) {
  auto link = getLink(sock, name);
  if (!link) {
    return std::unexpected(link.error());
  }
  LinkPtr changes(rtnl_link_alloc());
  rtnl_link_set_flags(changes.get(), IFF_UP);
  return changeLink(sock, link->get(), changes.get(), fmt::format("set {} up", name));
}

/** arp_ignore=8 on a link of the calling thread's namespace: the kernel answers no ARP request
 *  arriving on it. A host veth end is an OVS port; with the userspace datapath the kernel sees
 *  its frames too and would answer for the host's own addresses (a network's gateway) with the
 *  veth's MAC, next to the gateway's own reply. */
Result<void> silenceArp(nl_sock* sock, std::string_view name) {
  auto link = getLink(sock, name);
  if (!link) {
    return std::unexpected(link.error());
  }
  LinkPtr changes(rtnl_link_alloc());
  if (int rc = rtnl_link_inet_set_conf(changes.get(), IPV4_DEVCONF_ARP_IGNORE, 8); rc < 0) {
    return netlinkError(fmt::format("netlink: arp_ignore on {}", name), rc);
  }
  return changeLink(sock, link->get(), changes.get(), fmt::format("set arp_ignore on {}", name));
}

NlAddrPtr ipv4Addr(ipam::Ipv4Address address, int prefixLength) {
  const uint32_t networkOrder = htonl(address.value());
  NlAddrPtr addr(nl_addr_build(AF_INET, &networkOrder, sizeof networkOrder));
  nl_addr_set_prefixlen(addr.get(), prefixLength);
  return addr;
}

/** Adds address/prefix (with its broadcast, as `ip addr add ... brd +`) to link `ifindex`;
 *  already there is success. */
Result<void> addAddress(nl_sock* sock, int ifindex, ipam::Ipv4Address address, int prefixLength,
                        std::string_view linkName) {
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> addr(rtnl_addr_alloc(), rtnl_addr_put);
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  NlAddrPtr local = ipv4Addr(address, prefixLength);
  rtnl_addr_set_local(addr.get(), local.get());
  const uint32_t mask = prefixLength == 0 ? 0 : ~uint32_t{0} << (32 - prefixLength);
  NlAddrPtr broadcast = ipv4Addr(ipam::Ipv4Address(address.value() | ~mask), 32);
  rtnl_addr_set_broadcast(addr.get(), broadcast.get());
  if (int rc = rtnl_addr_add(sock, addr.get(), 0); rc < 0 && rc != -NLE_EXIST) {
    return netlinkError(
        fmt::format("netlink: add address {}/{} to {}", address.toString(), prefixLength, linkName),
        rc);
  }
  return {};
}

/** The IPv4 addresses of link `ifindex` (address and prefix length), one dump. */
struct LinkAddress {
  uint32_t address = 0;  // host order
  int prefixLength = 0;
};
Result<std::vector<LinkAddress>> ipv4AddressesOf(nl_sock* sock, int ifindex) {
  nl_cache* cache = nullptr;
  if (int rc = rtnl_addr_alloc_cache(sock, &cache); rc < 0) {
    return netlinkError("netlink: list addresses", rc);
  }
  std::vector<LinkAddress> out;
  for (nl_object* object = nl_cache_get_first(cache); object != nullptr;
       object = nl_cache_get_next(object)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_ifindex(addr) != ifindex || rtnl_addr_get_family(addr) != AF_INET) continue;
    nl_addr* local = rtnl_addr_get_local(addr);
    if (local == nullptr || nl_addr_get_len(local) != 4) continue;
    uint32_t networkOrder = 0;
    std::memcpy(&networkOrder, nl_addr_get_binary_addr(local), 4);
    out.push_back({ntohl(networkOrder), rtnl_addr_get_prefixlen(addr)});
  }
  nl_cache_free(cache);
  return out;
}

Result<void> deleteAddress(nl_sock* sock, int ifindex, const LinkAddress& address,
                           std::string_view linkName) {
  std::unique_ptr<rtnl_addr, void (*)(rtnl_addr*)> addr(rtnl_addr_alloc(), rtnl_addr_put);
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  NlAddrPtr local = ipv4Addr(ipam::Ipv4Address(address.address), address.prefixLength);
  rtnl_addr_set_local(addr.get(), local.get());
  if (int rc = rtnl_addr_delete(sock, addr.get(), 0);
      rc < 0 && rc != -NLE_NOADDR && rc != -NLE_OBJ_NOTFOUND) {
    return netlinkError(
        fmt::format("netlink: delete address {}/{} of {}",
                    ipam::Ipv4Address(address.address).toString(), address.prefixLength, linkName),
        rc);
  }
  return {};
}

/** What pruneAddresses() did. */
struct Pruned {
  bool removed = false;  ///< it deleted at least one address
  bool kept = false;     ///< `keep` was there (and stays)
};
/** Deletes every IPv4 address of link `ifindex` but `keep` (none: all of them). */
Result<Pruned> pruneAddresses(nl_sock* sock, int ifindex, std::string_view linkName,
                              std::optional<LinkAddress> keep) {
  auto current = ipv4AddressesOf(sock, ifindex);
  if (!current) {
    return std::unexpected(current.error());
  }
  Pruned pruned;
  for (const LinkAddress& held : *current) {
    if (keep && held.address == keep->address && held.prefixLength == keep->prefixLength) {
      pruned.kept = true;
      continue;
    }
    if (auto removed = deleteAddress(sock, ifindex, held, linkName); !removed) {
      return std::unexpected(removed.error());
    }
    pruned.removed = true;
  }
  return pruned;
}

/** Inside the container namespace, on the container end created there (with its name, MAC and
 *  MTU): TX checksum when asked, it and lo up, address, default route. */
Result<void> configureInside(const NamespaceSockets& inside, const VethSpec& spec) {
  nl_sock* sock = inside.route.get();
  if (spec.disableTxChecksum) {
    if (auto off = disableTxChecksum(inside.inet.get(), spec.containerName); !off) {
      return off;
    }
  }
  if (auto up = setUp(sock, "lo"); !up) {
    return up;
  }
  auto eth = getLink(sock, spec.containerName);
  if (!eth) {
    return std::unexpected(eth.error());
  }
  {
    LinkPtr changes(rtnl_link_alloc());
    rtnl_link_set_flags(changes.get(), IFF_UP);
    if (auto up = changeLink(sock, eth->get(), changes.get(),
                             fmt::format("set {} up", spec.containerName));
        !up) {
      return up;
    }
  }
  const int ifindex = rtnl_link_get_ifindex(eth->get());

  if (auto added = addAddress(sock, ifindex, spec.address, spec.prefixLength, spec.containerName);
      !added) {
    return added;
  }

  if (spec.gateway) {
    std::unique_ptr<rtnl_route, void (*)(rtnl_route*)> route(rtnl_route_alloc(), rtnl_route_put);
    rtnl_route_set_family(route.get(), AF_INET);
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
    rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
    rtnl_route_set_type(route.get(), RTN_UNICAST);
    NlAddrPtr any = ipv4Addr(ipam::Ipv4Address(0), 0);
    rtnl_route_set_dst(route.get(), any.get());
    rtnl_nexthop* hop = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(hop, ifindex);
    NlAddrPtr via = ipv4Addr(*spec.gateway, 32);
    rtnl_route_nh_set_gateway(hop, via.get());
    rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop now
    if (int rc = rtnl_route_add(sock, route.get(), NLM_F_CREATE | NLM_F_REPLACE); rc < 0) {
      return netlinkError(fmt::format("netlink: default route via {} on {}",
                                      spec.gateway->toString(), spec.containerName),
                          rc);
    }
  }
  return {};
}

class LinuxNetlink final : public Netlink {
 public:
  Result<void> wireContainer(const VethSpec& spec, const NamespaceRef& ns) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    // Open the target first: a vanished namespace must fail before anything is created.
    auto inside = socketsIn(ns);
    if (!inside) {
      return std::unexpected(inside.error());
    }
    if (auto cleared = deleteLinkIn(sock->get(), spec.hostName); !cleared) {
      return cleared;
    }
    auto wired = createAndConfigure(sock->get(), *inside, spec);
    if (!wired) {
      (void)deleteLinkIn(sock->get(), spec.hostName);  // takes the peer along, wherever it is
    }
    return wired;
  }

  Result<void> createVeth(const VethSpec& spec) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    if (auto cleared = deleteLinkIn(sock->get(), spec.hostName); !cleared) {
      return cleared;
    }
    auto created = createPair(sock->get(), spec);
    if (created) created = silenceArp(sock->get(), spec.hostName);
    if (created) created = setUp(sock->get(), spec.hostName);
    if (!created) {
      (void)deleteLinkIn(sock->get(), spec.hostName);
    }
    return created;
  }

  Result<void> deleteLink(std::string_view name) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    return deleteLinkIn(sock->get(), name);
  }

  Result<bool> linkExists(std::string_view name) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    auto link = getLink(sock->get(), name);
    if (!link) {
      if (link.error().code == ErrorCode::NotFound) return false;
      return std::unexpected(link.error());
    }
    return true;
  }

  Result<LinkInfo> linkInfo(std::string_view name) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    auto link = getLink(sock->get(), name);
    if (!link) {
      return std::unexpected(link.error());
    }
    LinkInfo info;
    info.mtu = rtnl_link_get_mtu(link->get());
    nl_addr* addr = rtnl_link_get_addr(link->get());
    if (addr != nullptr && nl_addr_get_len(addr) == info.mac.size()) {
      std::memcpy(info.mac.data(), nl_addr_get_binary_addr(addr), info.mac.size());
    }
    return info;
  }

  Result<std::vector<std::string>> listLinks(std::string_view prefix) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    nl_cache* cache = nullptr;
    if (int rc = rtnl_link_alloc_cache(sock->get(), AF_UNSPEC, &cache); rc < 0) {
      return netlinkError("netlink: list links", rc);
    }
    std::vector<std::string> names;
    for (nl_object* object = nl_cache_get_first(cache); object != nullptr;
         object = nl_cache_get_next(object)) {
      const char* name = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(object));
      if (name != nullptr && std::string_view(name).starts_with(prefix)) names.emplace_back(name);
    }
    nl_cache_free(cache);
    return names;
  }

  Result<bool> linkExistsIn(const NamespaceRef& ns, std::string_view name) override {
    auto inside = socketsIn(ns);
    if (!inside) {
      return std::unexpected(inside.error());
    }
    auto link = getLink(inside->route.get(), name);
    if (!link) {
      if (link.error().code == ErrorCode::NotFound) return false;
      return std::unexpected(link.error());
    }
    return true;
  }

  Result<bool> ensureSoleAddress(std::string_view name, ipam::Ipv4Address address,
                                 int prefixLength) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    auto link = getLink(sock->get(), name);
    if (!link) {
      return std::unexpected(link.error());
    }
    const int ifindex = rtnl_link_get_ifindex(link->get());
    auto pruned =
        pruneAddresses(sock->get(), ifindex, name, LinkAddress{address.value(), prefixLength});
    if (!pruned) {
      return std::unexpected(pruned.error());
    }
    bool changed = pruned->removed;
    if ((rtnl_link_get_flags(link->get()) & IFF_UP) == 0) {
      if (auto up = setUp(sock->get(), name); !up) {
        return std::unexpected(up.error());
      }
      changed = true;
    }
    if (!pruned->kept) {
      if (auto added = addAddress(sock->get(), ifindex, address, prefixLength, name); !added) {
        return std::unexpected(added.error());
      }
      changed = true;
    }
    return changed;
  }

  Result<void> setLinkMtu(const std::optional<NamespaceRef>& ns, std::string_view name,
                          uint32_t mtu) override {
    SocketPtr own;
    std::optional<NamespaceSockets> inside;
    nl_sock* sock = nullptr;
    if (ns) {
      auto sockets = socketsIn(*ns);
      if (!sockets) return std::unexpected(sockets.error());
      inside = std::move(*sockets);
      sock = inside->route.get();
    } else {
      auto opened = openRouteSocket();
      if (!opened) return std::unexpected(opened.error());
      own = std::move(*opened);
      sock = own.get();
    }
    auto link = getLink(sock, name);
    if (!link) return std::unexpected(link.error());
    if (rtnl_link_get_mtu(link->get()) == mtu) return {};
    LinkPtr changes(rtnl_link_alloc());
    rtnl_link_set_mtu(changes.get(), mtu);
    return changeLink(sock, link->get(), changes.get(), fmt::format("MTU {} on {}", mtu, name));
  }

  Result<bool> flushAddresses(std::string_view name) override {
    auto sock = openRouteSocket();
    if (!sock) {
      return std::unexpected(sock.error());
    }
    auto link = getLink(sock->get(), name);
    if (!link) {
      if (link.error().code == ErrorCode::NotFound) return false;
      return std::unexpected(link.error());
    }
    auto pruned = pruneAddresses(sock->get(), rtnl_link_get_ifindex(link->get()), name, {});
    if (!pruned) {
      return std::unexpected(pruned.error());
    }
    return pruned->removed;
  }

 private:
  /** Adds `spec`'s pair: the host end, and the peer named `peerName` with the MAC (both ends
   *  the MTU, both down); `into` set: the peer is created inside that namespace, with no move
   *  between namespaces, whose RCU wait was most of an attach's netlink time
   *  (bench/netlink_bench.cc). Down because veth refuses IFF_UP on a peer before the pair
   *  exists (ENOTCONN). */
  static Result<void> addPair(nl_sock* sock, const VethSpec& spec, const std::string& peerName,
                              const NamespaceSockets* into) {
    LinkPtr veth(rtnl_link_veth_alloc());
    if (!veth) {
      return makeError(ErrorCode::Unavailable, "netlink: out of memory");
    }
    rtnl_link_set_name(veth.get(), spec.hostName.c_str());
    rtnl_link_set_mtu(veth.get(), spec.mtu);
    rtnl_link* peer = rtnl_link_veth_get_peer(veth.get());
    rtnl_link_set_name(peer, peerName.c_str());
    rtnl_link_set_mtu(peer, spec.mtu);
    NlAddrPtr mac(nl_addr_build(AF_LLC, spec.mac.data(), spec.mac.size()));
    rtnl_link_set_addr(peer, mac.get());
    if (into != nullptr) rtnl_link_set_ns_fd(peer, into->netns.get());
    rtnl_link_put(peer);
    if (int rc = rtnl_link_add(sock, veth.get(), NLM_F_CREATE | NLM_F_EXCL); rc < 0) {
      return netlinkError(fmt::format("netlink: create veth {} <-> {}{}", spec.hostName, peerName,
                                      into != nullptr ? " in " + into->path : std::string()),
                          rc);
    }
    return {};
  }

  /** Both ends of `spec`'s pair in the caller's namespace, down, the peer with TX checksum off
   *  when asked (set while it is reachable here: the flag survives a move). */
  static Result<void> createPair(nl_sock* sock, const VethSpec& spec) {
    if (auto added = addPair(sock, spec, spec.peerName, nullptr); !added) {
      return added;
    }
    if (spec.disableTxChecksum) {
      Fd inet(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (!inet) {
        return makeError(ErrorCode::Unavailable, fmt::format("socket: {}", std::strerror(errno)));
      }
      return disableTxChecksum(inet.get(), spec.peerName);
    }
    return {};
  }

  static Result<void> createAndConfigure(nl_sock* sock, const NamespaceSockets& inside,
                                         const VethSpec& spec) {
    // The namespace the sockets were made in (opened once: the pid cannot change meanwhile).
    if (auto created = addPair(sock, spec, spec.containerName, &inside); !created) {
      return created;
    }
    if (auto configured = configureInside(inside, spec); !configured) {
      return configured;
    }
    // Up once it answers no ARP: with the userspace datapath the kernel sees an OVS port's
    // frames too (silenceArp).
    if (auto silent = silenceArp(sock, spec.hostName); !silent) {
      return silent;
    }
    return setUp(sock, spec.hostName);
  }
};

}  // namespace

NetlinkPtr makeLinuxNetlink() { return std::make_shared<LinuxNetlink>(); }

}  // namespace ovsplane::netdrv
