#include "adapter/http/listen.h"

#include <grp.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/stat.h>

#include <filesystem>

#include <fmt/format.h>

#include "common/host_port.h"

namespace ovsplane::adapter {

namespace asio = boost::asio;
using boost::system::error_code;

std::string ListenAddress::toString() const {
  return kind == Kind::Unix ? "unix:" + path : "tcp:" + formatHostPort(host, port);
}

std::expected<ListenAddress, std::string> parseListenAddress(std::string_view text) {
  ListenAddress address;
  if (text.starts_with("unix:")) {
    address.kind = ListenAddress::Kind::Unix;
    address.path = std::string(text.substr(5));
    while (address.path.starts_with("//")) address.path.erase(0, 1);  // unix:///path
    if (address.path.empty() || address.path.front() != '/') {
      return std::unexpected(fmt::format("\"{}\": a unix socket needs an absolute path", text));
    }
    if (address.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return std::unexpected(fmt::format("\"{}\": socket path too long", text));
    }
    return address;
  }
  if (text.starts_with("tcp:")) {
    auto hostPort = parseHostPort(text.substr(4), 0, /*allowZero=*/true);
    if (!hostPort) {
      return std::unexpected(
          fmt::format("\"{}\": {} (expected tcp:IP:PORT)", text, hostPort.error()));
    }
    address.kind = ListenAddress::Kind::Tcp;
    address.host = std::move(hostPort->host);
    address.port = hostPort->port;
    error_code ec;
    asio::ip::make_address(address.host, ec);
    if (ec)
      return std::unexpected(fmt::format("\"{}\": {} is not an IP address", text, address.host));
    return address;
  }
  return std::unexpected(fmt::format("\"{}\": expected unix:/path or tcp:IP:PORT", text));
}

std::expected<std::unique_ptr<asio::local::stream_protocol::acceptor>, std::string>
openUnixListener(asio::io_context& ioc, const std::string& path, unsigned mode) {
  std::error_code fsError;
  if (std::filesystem::is_socket(std::filesystem::symlink_status(path, fsError))) {
    std::filesystem::remove(path, fsError);  // a stale socket of an earlier run
  }
  auto acceptor = std::make_unique<asio::local::stream_protocol::acceptor>(ioc);
  asio::local::stream_protocol::endpoint endpoint(path);
  error_code ec;
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("listen on unix:{}: {}", path, ec.message()));
  ::chmod(path.c_str(), mode);
  // As dockerd's own socket: the docker group may connect, when there is one.
  if (const group* docker = ::getgrnam("docker"); docker != nullptr) {
    if (::chown(path.c_str(), static_cast<uid_t>(-1), docker->gr_gid) != 0) {
      // Not fatal: root (the owner) still can; the mode says who else may.
    }
  }
  return acceptor;
}

std::expected<std::unique_ptr<asio::ip::tcp::acceptor>, std::string> openTcpListener(
    asio::io_context& ioc, const std::string& host, uint16_t port) {
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(ioc);
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return std::unexpected(fmt::format("listen on tcp:{}:{}: bad address", host, port));
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected(fmt::format("listen on tcp:{}:{}: {}", host, port, ec.message()));
  return acceptor;
}

bool acceptFailureIsExhaustion(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory || ec.value() == ENFILE;
}

}  // namespace ovsplane::adapter
