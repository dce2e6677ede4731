#pragma once

#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/hooks.h"
#include "adapter/http/limits.h"
#include "adapter/http/listen.h"
#include "adapter/http/message.h"
#include "adapter/tls_front.h"

namespace ovsplane::adapter {

/** Powerstrip-style endpoint matching: "METHOD PATH" (query removed) against a glob where `*`
 *  matches any run of characters, '/' included. */
bool globMatch(std::string_view pattern, std::string_view text);

/** One hook adapter the proxy calls: takes a hook JSON body, answers like an HTTP adapter. */
using HookCall = std::function<HttpAnswer(const std::string& hookJson)>;

/** Which adapters run before (pre) and after (post) Docker for matching requests. */
struct HookRule {
  std::string pattern;  ///< e.g. "POST /*/containers/create"
  std::vector<HookCall> pre;
  std::vector<HookCall> post;
};

struct ProxyOptions {
  std::vector<ListenAddress> listen;
  std::string upstream = "/var/run/docker.sock";  ///< dockerd: a path, unix:///path, tcp://H:P
  size_t hookBodyLimit = kMaxHookBodyBytes;       ///< bodies buffered for hooks
  /** A client must send a request's head within this (idle keep-alive connections included):
   *  a slow or silent client is closed. */
  std::chrono::milliseconds headerTimeout = kHeaderTimeout;
  /** A request body the proxy buffers for its hooks must arrive within this. */
  std::chrono::milliseconds bodyTimeout = kBodyTimeout;
  /** Connecting to dockerd (502 past it). */
  std::chrono::milliseconds connectTimeout = kConnectTimeout;
  /** dockerd's whole answer to a request with post-hooks (504 past it; see limits.h). */
  std::chrono::milliseconds hookedAnswerTimeout = kHookedAnswerTimeout;
  /** Connections served at once; more are answered 503 and closed. */
  int maxConnections = kMaxConnections;
  unsigned unixSocketMode = 0660;
  /** stop() waits this long for requests with hooks in flight (an attach) before closing. */
  std::chrono::milliseconds drainTimeout{20000};
  /** TLS on every TCP listener (unix sockets stay plain: file permissions guard them). */
  std::optional<TlsOptions> tls = std::nullopt;
};

/**
 * A Powerstrip-compatible Docker API proxy (protocol v1 semantics, see the README):
 *  - requests matching a rule with pre-hooks have their JSON body passed through the adapters
 *    in order (a non-2xx answer aborts and is returned to the client as is: Docker's error
 *    shape, which the docker CLI prints); non-JSON bodies go to the hooks as null, untouched;
 *  - responses matching a rule with post-hooks are buffered (bounded) and passed through them,
 *    honouring the Code and ContentType they return;
 *  - everything else streams: response headers are forwarded as soon as dockerd sends them
 *    (docker run's wait), bodies piece by piece (logs -f, events), request bodies likewise
 *    (build contexts are never held in memory);
 *  - upgraded / hijacked connections (attach, exec, run -i/-t) get Docker's status line and
 *    headers as they are, then bytes are piped both ways with half-close;
 *  - limits (adapter/http/limits.h): heads 1 MiB (431), a head within headerTimeout, buffered
 *    bodies within bodyTimeout, dockerd reached within connectTimeout (502) and answering a
 *    hooked request within hookedAnswerTimeout (504); streamed answers have no timeout, but a
 *    client that closes its connection while waiting for one ends it: the connection to dockerd
 *    is closed, which cancels the request there (`docker run -d` leaves its wait open). A
 *    half-close (`socat`, `nc -N`) is not a leaving client; hooked requests run to their end.
 * One thread per client connection; slow clients never stall others. Thread-safe.
 */
class DockerProxy {
 public:
  DockerProxy(ProxyOptions options, std::vector<HookRule> rules);
  ~DockerProxy();
  DockerProxy(const DockerProxy&) = delete;
  DockerProxy& operator=(const DockerProxy&) = delete;

  std::expected<void, std::string> start();
  std::vector<ListenAddress> addresses() const;
  /** Stops accepting, lets requests with hooks in flight finish (drainTimeout), then closes
   *  every connection. */
  void stop();

  class Impl;  ///< opaque

 private:
  std::shared_ptr<Impl> impl_;  ///< shared with connection threads that outlive stop()
};

/** The rules of ovsplane's built-in adapter: create (pre + post), start (pre + post), delete
 * (post), on versioned and unversioned paths, all calling `call`. */
std::vector<HookRule> builtinRules(HookCall call);

}  // namespace ovsplane::adapter
