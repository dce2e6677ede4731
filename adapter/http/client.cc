#include "adapter/http/client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "netdrv/docker_endpoints.h"

namespace ovsplane::adapter {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Socket = asio::generic::stream_protocol::socket;

error_code lastError() { return error_code(errno, boost::system::system_category()); }

/** One non-blocking connect of `socket` (open, non-blocking) to `endpoint` by `deadline`. */
error_code connectOne(Socket& socket, const asio::generic::stream_protocol::endpoint& endpoint,
                      Clock::time_point deadline) {
  for (;;) {
    if (::connect(socket.native_handle(), endpoint.data(),
                  static_cast<socklen_t>(endpoint.size())) == 0) {
      return {};
    }
    if (errno == EAGAIN) {  // a unix listener's backlog is full: try again shortly
      if (Clock::now() >= deadline) return asio::error::timed_out;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    if (errno != EINPROGRESS && errno != EINTR) return lastError();
    break;
  }
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return asio::error::timed_out;
    pollfd entry{socket.native_handle(), POLLOUT, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return lastError();
    if (ready == 0) return asio::error::timed_out;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      return lastError();
    }
    return error == 0 ? error_code() : error_code(error, boost::system::system_category());
  }
}

}  // namespace

void connectWithin(Socket& socket, const StreamAddress& to, std::chrono::milliseconds timeout,
                   error_code& ec) {
  const auto deadline = Clock::now() + timeout;
  const auto endpoints = netdrv::dockerEndpoints(to, ec);
  if (ec) return;
  for (const auto& endpoint : endpoints) {
    error_code ignored;
    socket.close(ignored);
    socket.open(endpoint.protocol(), ec);
    if (!ec) socket.non_blocking(true, ec);
    if (!ec) ec = connectOne(socket, endpoint, deadline);
    if (!ec) {
      socket.non_blocking(false, ec);
      if (!ec) return;
    }
    if (ec == asio::error::timed_out) break;
  }
  error_code ignored;
  socket.close(ignored);
}

std::expected<HttpReply, HttpCallError> httpCall(const StreamAddress& to, const HttpCall& call,
                                                 std::chrono::milliseconds deadline,
                                                 size_t bodyLimit) {
  const auto until = Clock::now() + deadline;
  try {
    asio::io_context ioc;
    Socket socket(ioc);
    error_code ec;
    connectWithin(socket, to, deadline, ec);
    if (ec) {
      return std::unexpected(
          HttpCallError{ec == asio::error::timed_out, "connect: " + ec.message()});
    }
    beast::basic_stream<asio::generic::stream_protocol> stream(std::move(socket));
    stream.expires_at(until);
    http::request<http::string_body> request{http::string_to_verb(call.method), call.target, 11};
    if (request.method() == http::verb::unknown) request.method_string(call.method);
    request.set(http::field::host, call.host);
    request.set(http::field::user_agent, call.userAgent);
    if (!call.contentType.empty()) request.set(http::field::content_type, call.contentType);
    request.keep_alive(false);
    request.body() = call.body;
    request.prepare_payload();
    http::response_parser<http::string_body> parser;
    parser.header_limit(kMaxHeaderBytes);
    parser.body_limit(bodyLimit);
    beast::flat_buffer buffer;
    error_code result;
    http::async_write(stream, request, [&](error_code writeEc, size_t) {
      if (writeEc) {
        result = writeEc;
        return;
      }
      http::async_read(stream, buffer, parser, [&](error_code readEc, size_t) { result = readEc; });
    });
    ioc.run();
    if (result == beast::error::timeout) return std::unexpected(HttpCallError{true, "timed out"});
    if (result) return std::unexpected(HttpCallError{false, result.message()});
    auto response = parser.release();
    return HttpReply{response.result_int(), std::string(response[http::field::content_type]),
                     std::move(response.body())};
  } catch (const std::exception& e) {  // a socket path too long for sockaddr_un, say
    return std::unexpected(HttpCallError{false, e.what()});
  }
}

}  // namespace ovsplane::adapter
