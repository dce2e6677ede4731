#pragma once
// The one HTTP client of adapter/: the proxy connects to dockerd with connectWithin(), and calls
// external adapters with httpCall(). (netdrv's DockerClient, a module below, has its own.)

#include <chrono>
#include <cstddef>
#include <expected>
#include <string>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include "adapter/http/limits.h"
#include "netdrv/docker_client.h"

namespace ovsplane::adapter {

/** Where a client connects: a unix socket path or a TCP host:port (the shape dockerd's
 *  unix:// and tcp:// addresses parse to, netdrv::parseDockerAddress). */
using StreamAddress = netdrv::DockerAddress;

/** One request to send. */
struct HttpCall {
  std::string method = "POST";
  std::string target = "/";
  std::string host = "localhost";  ///< the Host header
  std::string contentType;         ///< none when empty
  std::string body;
  std::string userAgent = "ovsplane";
};

/** A complete answer. */
struct HttpReply {
  unsigned status = 0;
  std::string contentType;
  std::string body;
};

struct HttpCallError {
  bool timedOut = false;
  std::string message;  ///< what failed: "connect: Connection refused", "timed out"...
};

/**
 * One request on its own connection (Connection: close): connecting (every address a host
 * resolves to, in turn), sending and reading the whole answer together within `deadline`; an
 * answer body past `bodyLimit` or a head past kMaxHeaderBytes is an error. Never throws.
 */
std::expected<HttpReply, HttpCallError> httpCall(const StreamAddress& to, const HttpCall& call,
                                                 std::chrono::milliseconds deadline,
                                                 size_t bodyLimit = kMaxClientReplyBytes);

/**
 * Connects `socket` (closed or not; used blocking afterwards) to `to` within `timeout`, trying
 * every address a host resolves to. `ec` is set on failure: boost::asio::error::timed_out when
 * the time ran out.
 */
void connectWithin(boost::asio::generic::stream_protocol::socket& socket, const StreamAddress& to,
                   std::chrono::milliseconds timeout, boost::system::error_code& ec);

}  // namespace ovsplane::adapter
