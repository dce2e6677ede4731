#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/hook_service.h"
#include "adapter/hooks.h"

namespace ovsplane::adapter {

/** Where to listen: "unix:/path/to.sock" or "tcp:127.0.0.1:6675" (port 0 picks one). */
struct ListenAddress {
  enum class Kind { Unix, Tcp } kind = Kind::Unix;
  std::string path;   ///< unix
  std::string host;   ///< tcp (an IP address)
  uint16_t port = 0;  ///< tcp
  std::string toString() const;
};
std::expected<ListenAddress, std::string> parseListenAddress(std::string_view text);

struct HttpServerOptions {
  std::vector<ListenAddress> listen;
  size_t bodyLimit = 4 * 1024 * 1024;          ///< larger requests get 413
  std::chrono::milliseconds ioTimeout{30000};  ///< per read / per write
  unsigned ioThreads = 2;                      ///< socket work
  unsigned handlerThreads = 16;                ///< concurrent (blocking) handlers
  unsigned unixSocketMode = 0660;
  /** Request heads larger than this get 431 (hooks need little). Past 64 KiB, one field larger
   *  than Beast's limit ends its connection without an answer. */
  uint32_t headerLimit = 60 * 1024;
};

using HttpHandler = std::function<HttpAnswer(const HttpRequestView&)>;

/**
 * A small HTTP/1.1 server (Boost.Beast) for the hook service: one session per connection, a
 * timeout before every read and write, a body limit (413), garbage answered with 400 and the
 * connection closed. Handlers run on a separate thread pool, so slow hooks never stall reads
 * and writes of other connections. Thread-safe; stop() (or destruction) finishes in-flight
 * requests within a grace period.
 */
class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /** Binds every address (a stale unix socket file is replaced) and starts serving. */
  std::expected<void, std::string> start();
  /** The bound addresses (TCP port 0 resolved). */
  std::vector<ListenAddress> addresses() const;
  /** Stops accepting, lets in-flight requests finish for up to `grace`, then closes all. */
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  class Impl;  ///< opaque (public only so the sessions in the .cc can name it)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ovsplane::adapter
