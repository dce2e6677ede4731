#pragma once

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/system/error_code.hpp>
#include <vector>

#include "netdrv/docker_client.h"

namespace ovsplane::netdrv {

/**
 * Where a DockerAddress is, as socket endpoints of either family: the unix socket, or every
 * address a tcp host resolves to (::1 and 127.0.0.1 for localhost, say), in resolver order, to
 * be tried in turn. Blocks while a host name resolves; `ec` is set (and the list empty) when it
 * does not. Used by the Docker client and the proxy's upstream alike.
 */
std::vector<boost::asio::generic::stream_protocol::endpoint> dockerEndpoints(
    const DockerAddress& address, boost::system::error_code& ec);

}  // namespace ovsplane::netdrv
