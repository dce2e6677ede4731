#pragma once
// Where the hook server and the proxy listen, and opening those sockets: the one listen-address
// parser and the one place that sets a socket's mode and group.

#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

namespace ovsplane::adapter {

/** Where to listen: "unix:/path/to.sock" or "tcp:127.0.0.1:6675" (port 0 picks one). */
struct ListenAddress {
  enum class Kind { Unix, Tcp } kind = Kind::Unix;
  std::string path;   ///< unix
  std::string host;   ///< tcp (an IP address)
  uint16_t port = 0;  ///< tcp
  std::string toString() const;
};

/** "unix:/abs/path" (or unix:///abs/path) or "tcp:IP:PORT" ("[V6]:PORT"); errors quote the
 *  text and say what is wrong. Pure. */
std::expected<ListenAddress, std::string> parseListenAddress(std::string_view text);

/** A unix stream socket listening at `path` with file mode `mode` and, as dockerd's own socket,
 *  group `docker` when that group exists; a stale socket file of an earlier run is replaced.
 *  The error names the address. */
std::expected<std::unique_ptr<boost::asio::local::stream_protocol::acceptor>, std::string>
openUnixListener(boost::asio::io_context& ioc, const std::string& path, unsigned mode);

/** A TCP socket listening at host:port (port 0: any free one; see local_endpoint()). */
std::expected<std::unique_ptr<boost::asio::ip::tcp::acceptor>, std::string> openTcpListener(
    boost::asio::io_context& ioc, const std::string& host, uint16_t port);

/** True for accept() failures that mean "out of descriptors or memory": the loop backs off
 *  (kAcceptBackoff) instead of spinning on a listener that stays readable. */
bool acceptFailureIsExhaustion(const boost::system::error_code& ec);

}  // namespace ovsplane::adapter
