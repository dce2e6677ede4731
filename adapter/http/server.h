#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/http/limits.h"
#include "adapter/http/listen.h"
#include "adapter/http/message.h"

namespace ovsplane::adapter {

struct HttpServerOptions {
  std::vector<ListenAddress> listen;
  size_t bodyLimit = kMaxHookRequestBytes;           ///< larger requests get 413
  std::chrono::milliseconds ioTimeout = kIoTimeout;  ///< per read (a whole head or body) / write
  unsigned ioThreads = 2;                            ///< socket work
  unsigned handlerThreads = 16;                      ///< concurrent (blocking) handlers
  unsigned unixSocketMode = 0660;
  /** Request heads larger than this get 431 (hooks need little). Past 64 KiB, one field larger
   *  than Beast's limit ends its connection without an answer. */
  uint32_t headerLimit = kMaxHookHeaderBytes;
  /** Connections served at once; more are answered 503 and closed. */
  int maxConnections = kMaxConnections;
};

using HttpHandler = std::function<HttpAnswer(const HttpRequestView&)>;

/**
 * A small HTTP/1.1 server (Boost.Beast) for the hook service: one session per connection, a
 * timeout before every read and write, a body limit (413), garbage answered with 400 and the
 * connection closed, a connection cap (503), accept backed off when out of descriptors. Handlers
 * run on a separate thread pool, so slow hooks never stall reads and writes of other connections.
 * Thread-safe; stop() (or destruction) finishes in-flight requests within a grace period.
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
