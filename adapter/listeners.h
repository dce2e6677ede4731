#pragma once

#include <cstdint>
// Opening listening sockets, shared by the hook server and the proxy. Private to adapter/.

#include <expected>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "adapter/http_server.h"

namespace ovsplane::adapter {

/** HTTP heads (request or response) through the proxy may be this large: dockerd accepts
 *  1 MiB, and `docker build` sends large X-Registry-Config headers. Larger ones are answered
 *  431. (One field may hold at most kMaxHeaderFieldBytes: Beast's limit.) */
inline constexpr uint32_t kMaxHeaderBytes = 1024 * 1024;
/** Beast stores a field's value in at most 64 KiB (it throws std::length_error past that). */
inline constexpr uint32_t kMaxHeaderFieldBytes = 65533;

/** A unix stream socket listening at `path` with file mode `mode`; a stale socket file of an
 *  earlier run is replaced. The error names the address. */
std::expected<std::unique_ptr<boost::asio::local::stream_protocol::acceptor>, std::string>
openUnixListener(boost::asio::io_context& ioc, const std::string& path, unsigned mode);

/** A TCP socket listening at host:port (port 0: any free one; see local_endpoint()). */
std::expected<std::unique_ptr<boost::asio::ip::tcp::acceptor>, std::string> openTcpListener(
    boost::asio::io_context& ioc, const std::string& host, uint16_t port);

}  // namespace ovsplane::adapter
