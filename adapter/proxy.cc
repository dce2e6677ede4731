#include "adapter/proxy.h"

#include "adapter/http/client.h"
#include "adapter/http/framing.h"
#include "adapter/http/listen.h"
#include "common/fault_point.h"
#include "common/json_limits.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace ovsplane::adapter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using Socket = asio::generic::stream_protocol::socket;
using Json = nlohmann::json;

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard matching with backtracking to the last '*'.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<HookRule> builtinRules(HookCall call) {
  std::vector<HookRule> rules;
  for (const char* prefix : {"/*", ""}) {
    rules.push_back({fmt::format("POST {}/containers/create", prefix), {call}, {call}});
    rules.push_back({fmt::format("POST {}/containers/*/start", prefix), {call}, {call}});
    rules.push_back({fmt::format("DELETE {}/containers/*", prefix), {}, {call}});
  }
  return rules;
}

namespace {

bool isJsonContentType(std::string_view contentType) {
  const std::string_view media = contentType.substr(0, contentType.find(';'));
  return media == "application/json";
}

/** 204 and 304 answers carry no body (Beast refuses to frame one). */
bool bodyAllowed(unsigned status) { return status != 204 && status != 304 && status >= 200; }

/** Writes a complete small response to the client. */
void writeAnswer(Socket& client, unsigned version, bool keepAlive, const HttpAnswer& answer,
                 error_code& ec) {
  http::response<http::string_body> response{static_cast<http::status>(answer.status), version};
  response.set(http::field::server, "ovsplane-proxy");
  response.set(http::field::content_type, answer.contentType);
  if (bodyAllowed(answer.status)) response.body() = answer.body;
  response.keep_alive(keepAlive);
  response.prepare_payload();
  http::write(client, response, ec);
}

/** Reads the body of a message whose head was read without a body limit (bodies without hooks
 *  stream) into `full`, at most `limit` bytes. Beast checks a body limit against Content-Length
 *  only while it reads the head, so a declared length is checked here first. */
template <bool isRequest>
void readBuffered(Socket& from, beast::flat_buffer& buffer,
                  http::parser<isRequest, http::string_body>& full, size_t limit, error_code& ec) {
  full.body_limit(limit);
  if (full.content_length().value_or(0) > limit) {
    ec = http::error::body_limit;
    return;
  }
  http::read(from, buffer, full, ec);
}

/** A socket read that never waits (recv with MSG_DONTWAIT): what is already here, or
 *  would_block. Lets Beast gather pieces that have arrived without toggling the socket's mode
 *  (two ioctls per piece). A SyncReadStream for the parser's read_some. */
class NoWaitReader {
 public:
  explicit NoWaitReader(Socket& socket) : socket_(socket) {}
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, error_code& ec) {
    const asio::mutable_buffer first = *asio::buffer_sequence_begin(buffers);
    const ssize_t n = ::recv(socket_.native_handle(), first.data(), first.size(), MSG_DONTWAIT);
    if (n > 0) {
      ec = {};
      return static_cast<size_t>(n);
    }
    ec = n == 0 ? error_code(asio::error::eof)
                : error_code(errno == EAGAIN || errno == EWOULDBLOCK ? EWOULDBLOCK : errno,
                             boost::system::system_category());
    return 0;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  Socket& socket_;
};

/** Waits until `from` has something to read (bytes, EOF or an error). Returns false, with `ec`
 *  set, when `client` hangs up first: a client that has gone away (the docker CLI leaves
 *  `docker run -d`'s wait for its container's exit open when it exits) must not hold a
 *  thread and two sockets until dockerd answers, perhaps never. Closing the upstream connection
 *  then cancels the request at dockerd. A unix socket tells a full close (POLLHUP) from a
 *  half-close after the request (`socat`, `nc -N`), which still gets its answer. A TCP peer's
 *  close looks like a half-close until something is written to it, so any end of the client's
 *  sending side is passed on to dockerd (shutdown of the upstream's sending side): dockerd then
 *  does what it does for a client of its own that stops sending (its HTTP server cancels a
 *  request whose client has reached EOF, a `wait` among them; answers already under way are
 *  still sent). */
bool awaitReadableUnlessHungUp(Socket& from, Socket& client, error_code& ec) {
  pollfd fds[2] = {{from.native_handle(), POLLIN, 0}, {client.native_handle(), POLLRDHUP, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
    if ((fds[1].revents & (POLLHUP | POLLERR)) != 0) {
      ec = asio::error::connection_aborted;
      return false;
    }
    if ((fds[1].revents & POLLRDHUP) != 0) {
      ::shutdown(from.native_handle(), SHUT_WR);  // the client sends no more: nor does the proxy
      fds[1].fd = -1;                             // wait for the answer (or dockerd's close)
    }
    if (fds[0].revents != 0) return true;
  }
}

/** Relays a message's body piece by piece: each piece as soon as it arrives (streamed
 *  responses, chunked uploads), nothing held beyond one buffer. The head goes out with the first
 *  piece when body bytes came with it (a small answer: one write), else at once, before any body
 *  byte exists (docker run's wait). */
template <bool isRequest>
void relayMessage(Socket& out, Socket& in, beast::flat_buffer& buffer,
                  http::parser<isRequest, http::buffer_body>& parser, error_code& ec) {
  // An answer streams to its client only while the client is there to read it.
  constexpr bool watchClient = !isRequest;
  http::serializer<isRequest, http::buffer_body> serializer{parser.get()};
  if (!parser.is_done() && buffer.size() == 0) {
    http::write_header(out, serializer, ec);
    if (ec) return;
  }
  std::array<char, 32 * 1024> chunk;  // not zeroed: only what was read is sent
  NoWaitReader nowOnly(in);
  while (!parser.is_done() || !serializer.is_done()) {
    if (!parser.is_done()) {
      // The first read waits for data (or parses what came with the head); then whatever else
      // is already here is gathered into the same piece without waiting, so that a live stream
      // (logs -f) goes out as it comes, even when only part of the next chunk has arrived.
      // dockerd streams logs as many tiny chunks: one write per chunk would cost a syscall each.
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      if (watchClient && buffer.size() == 0 && !awaitReadableUnlessHungUp(in, out, ec)) return;
      http::read_some(in, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return;
      size_t got = chunk.size() - parser.get().body().size;
      while (!parser.is_done() && got > 0 && got < chunk.size()) {
        parser.get().body().data = chunk.data() + got;
        parser.get().body().size = chunk.size() - got;
        http::read_some(nowOnly, buffer, parser, ec);
        got = chunk.size() - parser.get().body().size;
        if (ec == http::error::need_buffer) ec = {};
        if (ec == asio::error::would_block) {
          ec = {};
          break;
        }
        if (ec) return;
      }
      if (got == 0 && !parser.is_done())
        continue;  // only framing was read (a chunk header):
                   // an empty piece would end a chunked body
      parser.get().body().size = got;
      parser.get().body().data = got == 0 ? nullptr : chunk.data();
      parser.get().body().more = !parser.is_done();
    } else {
      parser.get().body().data = nullptr;
      parser.get().body().size = 0;
      parser.get().body().more = false;
    }
    http::write(out, serializer, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return;
    if (parser.is_done() && serializer.is_done()) break;
  }
}

/** Runs the pre-hook chain: each adapter sees the previous one's body (`body`, updated in place;
 *  a non-JSON body stays null and untouched). Returns the refusal that ended the chain, if any:
 *  an adapter's non-2xx answer as it is, or 502 for an answer without ModifiedClientRequest. */
std::optional<HttpAnswer> runPreHooks(const std::vector<HookCall>& pre, const std::string& method,
                                      const std::string& target, const std::string& requestId,
                                      bool jsonBody, std::optional<std::string>& body) {
  for (const HookCall& call : pre) {
    const Json hook = {
        {"PowerstripProtocolVersion", 1},
        {"Type", "pre-hook"},
        {"ClientRequest",
         {{"Method", method}, {"Request", target}, {"Body", body ? Json(*body) : Json(nullptr)}}},
        {kRequestIdField, requestId}};
    HttpAnswer answer = call(dumpJson(hook));
    if (!isSuccess(answer.status)) return answer;
    const Json reply = parseJsonBounded(answer.body);
    const Json* modified = reply.is_object() && reply.contains("ModifiedClientRequest")
                               ? &reply["ModifiedClientRequest"]
                               : nullptr;
    if (modified == nullptr || !modified->is_object()) {
      return errorAnswer(502, "an adapter answered a pre-hook without ModifiedClientRequest");
    }
    if (jsonBody && modified->contains("Body") && (*modified)["Body"].is_string()) {
      body = (*modified)["Body"].get<std::string>();
    }
  }
  return std::nullopt;
}

/** The client's answer after post-hooks: Docker's headers (but framing and content type), the
 *  hooks' status, content type and body. */
http::response<http::string_body> hookedResponse(
    const http::response<http::string_body>& fromDocker, const HttpAnswer& result, unsigned version,
    bool keepAlive) {
  http::response<http::string_body> out{static_cast<http::status>(result.status), version};
  for (const auto& field : fromDocker.base()) {
    if (field.name() == http::field::content_length ||
        field.name() == http::field::transfer_encoding ||
        field.name() == http::field::content_type || field.name() == http::field::connection) {
      continue;
    }
    out.set(field.name_string(), field.value());
  }
  if (!result.contentType.empty()) out.set(http::field::content_type, result.contentType);
  if (bodyAllowed(result.status)) out.body() = result.body;
  out.keep_alive(keepAlive);
  out.prepare_payload();
  return out;
}

/** Runs the post-hook chain on `result` (Docker's answer, or a refusal): each adapter sees the
 *  previous one's output; Code and ContentType are honoured; a failing adapter ends the chain
 *  with its error. */
HttpAnswer runPostHooks(const std::vector<HookCall>& post, const std::string& method,
                        const std::string& target, const std::optional<std::string>& originalBody,
                        const std::string& requestId, HttpAnswer result) {
  Json contentTypeJson = result.contentType.empty() ? Json(nullptr) : Json(result.contentType);
  for (const HookCall& call : post) {
    const Json hook = {
        {"PowerstripProtocolVersion", 1},
        {"Type", "post-hook"},
        {"ClientRequest",
         {{"Method", method},
          {"Request", target},
          {"Body", originalBody ? Json(*originalBody) : Json(nullptr)}}},
        {"ServerResponse",
         {{"ContentType", contentTypeJson}, {"Body", result.body}, {"Code", result.status}}},
        {kRequestIdField, requestId}};
    HttpAnswer answer = call(dumpJson(hook));
    if (!isSuccess(answer.status)) {
      result = std::move(answer);
      break;
    }
    const Json reply = parseJsonBounded(answer.body);
    if (!reply.is_object() || !reply.contains("ModifiedServerResponse") ||
        !reply["ModifiedServerResponse"].is_object()) {
      result = errorAnswer(502, "an adapter answered a post-hook without ModifiedServerResponse");
      break;
    }
    const Json& modified = reply["ModifiedServerResponse"];
    if (modified.contains("Code") && modified["Code"].is_number_integer()) {
      const auto code = modified["Code"].get<long long>();
      if (code < 200 || code > 599) {
        result =
            errorAnswer(502, fmt::format("an adapter answered a post-hook with Code {}", code));
        break;
      }
      result.status = static_cast<unsigned>(code);
    }
    if (modified.contains("Body") && modified["Body"].is_string()) {
      result.body = modified["Body"].get<std::string>();
    }
    if (modified.contains("ContentType")) {
      contentTypeJson = modified["ContentType"];
      result.contentType =
          contentTypeJson.is_string() ? contentTypeJson.get<std::string>() : std::string();
    }
  }
  return result;
}

/** Counts a request in `counter` for its lifetime (nullptr: not counted). */
class InFlight {
 public:
  explicit InFlight(std::atomic<int>* counter) : counter_(counter) {
    if (counter_ != nullptr) ++*counter_;
  }
  ~InFlight() {
    if (counter_ != nullptr) --*counter_;
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  bool counted() const { return counter_ != nullptr; }

 private:
  std::atomic<int>* counter_;
};

std::string newRequestId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

/** Copies bytes one way until EOF, then half-closes the other side. */
void pipeOneWay(Socket& from, Socket& to, beast::flat_buffer& pending) {
  error_code ec;
  if (pending.size() > 0) {
    asio::write(to, pending.data(), ec);
    pending.consume(pending.size());
  }
  std::array<char, 32 * 1024> chunk;  // not zeroed: only what was read is sent
  while (!ec) {
    const size_t n = from.read_some(asio::buffer(chunk), ec);
    if (n > 0) asio::write(to, asio::buffer(chunk.data(), n), ec);
  }
  error_code ignored;
  to.shutdown(asio::socket_base::shutdown_send, ignored);
}

}  // namespace

class DockerProxy::Impl : public std::enable_shared_from_this<DockerProxy::Impl> {
 public:
  Impl(ProxyOptions options, std::vector<HookRule> rules)
      : options_(std::move(options)),
        rules_(std::move(rules)),
        upstreamAddress_(netdrv::parseDockerAddress(options_.upstream)) {}

  std::expected<void, std::string> start();
  void stop();
  std::vector<ListenAddress> addresses() const { return bound_; }

 private:
  void acceptLoop(size_t index);
  void serve(Socket client);
  bool connectUpstream(Socket& upstream, error_code& ec);
  void collectHooks(std::string_view method, std::string_view target, std::vector<HookCall>& pre,
                    std::vector<HookCall>& post) const;
  void track(Socket& socket, bool add);
  /** Serves an accepted connection (or the plaintext side of a TLS one, AF_UNIX) on its own
   *  thread, which shares ownership: a connection outliving stop() (a slow hook) still finds
   *  everything it uses. Takes ownership of `fd`. */
  void startSession(int fd, int family) {
    error_code ec;
    Socket client(ioc_);
    client.assign(asio::generic::stream_protocol(family, SOCK_STREAM), fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    if (sessions_ >= options_.maxConnections) {
      refuse(client,
             fmt::format("too many connections ({}): try again later", options_.maxConnections));
      return;
    }
    ++sessions_;
    try {
      std::thread([self = shared_from_this(), client = std::move(client)]() mutable {
        self->serve(std::move(client));
        --self->sessions_;
      }).detach();
    } catch (const std::system_error& e) {  // no thread to be had: answered, not fatal
      --sessions_;
      refuse(client, fmt::format("cannot serve this connection now: {}", e.what()));
    }
  }
  /** A 503 written without waiting (a client that does not read loses it), then closed. */
  static void refuse(Socket& client, const std::string& why) {
    error_code ec;
    client.non_blocking(true, ec);
    const std::string text = closingResponseText(errorAnswer(503, why));
    client.write_some(asio::buffer(text), ec);
    client.close(ec);
  }
  /** The reaper closes `socket` at `deadline` unless disarmed first (slow or silent clients). */
  void arm(Socket& socket, std::chrono::milliseconds within) {
    std::scoped_lock lock(mutex_);
    deadlines_[socket.native_handle()] = std::chrono::steady_clock::now() + within;
  }
  void disarm(Socket& socket) {
    std::scoped_lock lock(mutex_);
    deadlines_.erase(socket.native_handle());
  }
  void reapLoop();

  ProxyOptions options_;
  std::vector<HookRule> rules_;
  netdrv::DockerAddress upstreamAddress_;  ///< options_.upstream, parsed once
  asio::io_context ioc_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp_;
  std::vector<std::unique_ptr<asio::local::stream_protocol::acceptor>> unix_;
  std::vector<ListenAddress> bound_;
  std::vector<std::thread> acceptors_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::list<int> openFds_;  // guarded by mutex_: shut down on stop()
  std::map<int, std::chrono::steady_clock::time_point> deadlines_;  // guarded by mutex_
  std::thread reaper_;
  std::atomic<int> sessions_{0};
  std::atomic<int> hookedInFlight_{0};  // requests with hooks between their head and answer
  std::unique_ptr<TlsFront> tls_;
};

void DockerProxy::Impl::track(Socket& socket, bool add) {
  std::scoped_lock lock(mutex_);
  if (add) {
    openFds_.push_back(socket.native_handle());
  } else {
    openFds_.remove(socket.native_handle());
    deadlines_.erase(socket.native_handle());
  }
}

void DockerProxy::Impl::reapLoop() {
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    std::scoped_lock lock(mutex_);
    for (auto it = deadlines_.begin(); it != deadlines_.end();) {
      if (it->second <= now) {
        ::shutdown(it->first, SHUT_RDWR);  // its blocked read returns: the session ends
        it = deadlines_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

std::expected<void, std::string> DockerProxy::Impl::start() {
  if (options_.tls) {
    auto front = TlsFront::create(*options_.tls, [weak = weak_from_this()](int plainFd) {
      auto self = weak.lock();
      if (!self) {
        ::close(plainFd);
        return;
      }
      self->startSession(plainFd, AF_UNIX);
    });
    if (!front) return std::unexpected("proxy: " + front.error());
    tls_ = std::move(*front);
  }
  for (const ListenAddress& address : options_.listen) {
    if (address.kind == ListenAddress::Kind::Unix) {
      auto acceptor = openUnixListener(ioc_, address.path, options_.unixSocketMode);
      if (!acceptor) return std::unexpected("proxy: " + acceptor.error());
      unix_.push_back(std::move(*acceptor));
      bound_.push_back(address);
    } else {
      auto acceptor = openTcpListener(ioc_, address.host, address.port);
      if (!acceptor) return std::unexpected("proxy: " + acceptor.error());
      ListenAddress actual = address;
      actual.port = (*acceptor)->local_endpoint().port();
      tcp_.push_back(std::move(*acceptor));
      bound_.push_back(actual);
    }
  }
  for (size_t i = 0; i < bound_.size(); ++i) {
    acceptors_.emplace_back([this, i] { acceptLoop(i); });
  }
  reaper_ = std::thread([this] { reapLoop(); });
  return {};
}

void DockerProxy::Impl::acceptLoop(size_t index) {
  const bool isUnix = bound_[index].kind == ListenAddress::Kind::Unix;
  size_t unixIndex = 0;
  size_t tcpIndex = 0;
  for (size_t i = 0; i < index; ++i) {
    (bound_[i].kind == ListenAddress::Kind::Unix ? unixIndex : tcpIndex)++;
  }
  while (!stopping_) {
    error_code ec;
    int fd = -1;
    int family = AF_UNIX;
    if (isUnix) {
      asio::local::stream_protocol::socket socket(ioc_);
      unix_[unixIndex]->accept(socket, ec);
      if (!ec) fd = socket.release();
    } else {
      asio::ip::tcp::socket socket(ioc_);
      tcp_[tcpIndex]->accept(socket, ec);
      if (!ec) {
        family = socket.local_endpoint().protocol().family();
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        fd = socket.release();
      }
    }
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      // Out of descriptors (EMFILE/ENFILE) or memory: wait for some to be closed instead of
      // spinning on a listener that stays readable.
      if (acceptFailureIsExhaustion(ec)) {
        spdlog::warn("proxy: accept: {} (backing off)", ec.message());
        std::this_thread::sleep_for(kAcceptBackoff);
      }
      continue;
    }
    if (!isUnix && tls_) {
      tls_->adopt(fd, family);  // the plaintext comes back through the TLS front's callback
      continue;
    }
    startSession(fd, family);
  }
}

bool DockerProxy::Impl::connectUpstream(Socket& upstream, error_code& ec) {
  if (upstream.is_open()) return true;
  connectWithin(upstream, upstreamAddress_, options_.connectTimeout, ec);
  if (ec) return false;
  if (upstreamAddress_.tcp) upstream.set_option(asio::ip::tcp::no_delay(true), ec);
  if (!ec) track(upstream, true);
  return !ec;
}

void DockerProxy::Impl::collectHooks(std::string_view method, std::string_view target,
                                     std::vector<HookCall>& pre,
                                     std::vector<HookCall>& post) const {
  const std::string key = fmt::format("{} {}", method, target.substr(0, target.find('?')));
  for (const HookRule& rule : rules_) {
    if (!globMatch(rule.pattern, key)) continue;
    pre.insert(pre.end(), rule.pre.begin(), rule.pre.end());
    post.insert(post.end(), rule.post.begin(), rule.post.end());
  }
}

void DockerProxy::Impl::serve(Socket client) {
  track(client, true);
  Socket upstream(ioc_);
  beast::flat_buffer clientBuffer;
  beast::flat_buffer upstreamBuffer;
  auto closeUpstream = [&] {
    if (!upstream.is_open()) return;
    track(upstream, false);
    error_code ignored;
    upstream.close(ignored);
  };

  // Nothing may escape this thread: an exception ends this connection only.
  try {
    for (;;) {
      error_code ec;
      RequestHeadParser request;
      limitRequestParser(request);
      arm(client, options_.headerTimeout);  // idle and slow clients (slowloris) are closed
      try {
        http::read_header(client, clientBuffer, request, ec);
      } catch (const std::length_error&) {
        ec = http::error::header_limit;  // one field past Beast's 64 KiB
      }
      disarm(client);
      const HeadVerdict verdict = judgeRequestHead(request, ec);
      if (verdict.kind == HeadVerdict::Kind::Closed) break;
      if (verdict.kind == HeadVerdict::Kind::Refuse) {
        writeAnswer(client, ec ? 11 : request.get().version(), false, verdict.refusal, ec);
        break;
      }
      const std::string method(request.get().method_string());
      const unsigned version = request.get().version();
      const std::string target(request.get().target());  // normalized: what dockerd routes
      // Expect: 100-continue is answered here (the body is read here, hooks or not); dockerd
      // never sees it, so no interim answer of its own can reach a post-hook.
      if (beast::iequals(request.get()[http::field::expect], "100-continue")) {
        request.get().erase(http::field::expect);
        if (!request.is_done()) {
          http::response<http::empty_body> interim{http::status::continue_, version};
          http::write(client, interim, ec);
          if (ec) break;
        }
      }
      const bool keepAlive = request.get().keep_alive();
      const bool upgradeAsked = !request.get()[http::field::upgrade].empty();
      std::vector<HookCall> pre;
      std::vector<HookCall> post;
      collectHooks(method, target, pre, post);
      // A request with hooks is one the adapter acts on: stop() lets it finish (bounded), and
      // its pre- and post-hooks carry one id that pairs them exactly.
      const InFlight inFlight(pre.empty() && post.empty() ? nullptr : &hookedInFlight_);
      const std::string requestId = inFlight.counted() ? newRequestId() : std::string();

      if (!connectUpstream(upstream, ec)) {
        // Report it and close (what the client sent after the head is not read).
        writeAnswer(client, version, false,
                    errorAnswer(502, fmt::format("cannot reach dockerd at {}: {}",
                                                 options_.upstream, ec.message())),
                    ec);
        break;
      }

      std::optional<std::string> originalBody;  // the client's JSON body, for post-hooks
      if (!pre.empty()) {
        http::request_parser<http::string_body> full{std::move(request)};
        arm(client, options_.bodyTimeout);
        readBuffered(client, clientBuffer, full, options_.hookBodyLimit, ec);
        disarm(client);
        if (ec) {
          writeAnswer(
              client, version, false,
              ec == http::error::body_limit
                  ? errorAnswer(413, fmt::format("request body larger than {} bytes",
                                                 options_.hookBodyLimit))
                  : errorAnswer(400, fmt::format("reading the request body: {}", ec.message())),
              ec);
          break;
        }
        auto message = full.release();
        const bool json = isJsonContentType(message[http::field::content_type]);
        if (json) originalBody = message.body();
        std::optional<std::string> body = originalBody;
        const std::optional<HttpAnswer> refused =
            runPreHooks(pre, method, target, requestId, json, body);
        if (refused) {
          // Docker never sees the request: the endpoint's post-hooks learn of the refusal as its
          // answer, so adapters that acted in their pre-hook (an attach) undo it. Their answers
          // are not used: the client gets the refusal.
          if (!post.empty()) {
            (void)runPostHooks(post, method, target, originalBody, requestId, *refused);
          }
          writeAnswer(client, version, keepAlive, *refused, ec);
          if (ec || !keepAlive) break;
          continue;
        }
        if (json && body) {
          message.body() = *body;
          message.prepare_payload();
        }
        faultPoint("proxy.before-docker");
        http::write(upstream, message, ec);
      } else {
        relayMessage(upstream, client, clientBuffer, request, ec);
      }
      if (ec) {
        writeAnswer(
            client, version, false,
            errorAnswer(502, fmt::format("sending the request to dockerd: {}", ec.message())), ec);
        break;
      }

      // A hooked answer is buffered for its post-hooks: dockerd has hookedAnswerTimeout for it
      // (a hung daemon must not hold the attach for ever); streamed answers have no limit.
      const auto askedAt = std::chrono::steady_clock::now();
      if (!post.empty()) arm(upstream, options_.hookedAnswerTimeout);
      auto dockerFailed = [&](std::string_view stage) {
        const bool late = !post.empty() && std::chrono::steady_clock::now() - askedAt >=
                                               options_.hookedAnswerTimeout;
        return late ? errorAnswer(504, fmt::format("dockerd did not answer within {} ms",
                                                   options_.hookedAnswerTimeout.count()))
                    : errorAnswer(502, fmt::format("{}: {}", stage, ec.message()));
      };
      // Interim answers (1xx but 101) are relayed as they come; the final one follows.
      std::optional<http::response_parser<http::buffer_body>> final;
      for (;;) {
        final.emplace();
        final->body_limit(boost::none);
        final->header_limit(kMaxHeaderBytes);
        if (method == "HEAD") final->skip(true);
        // A client that leaves before dockerd answers ends the wait (but not a hooked request:
        // its post-hooks must learn dockerd's answer, whoever reads it).
        if (post.empty() && upstreamBuffer.size() == 0 &&
            !awaitReadableUnlessHungUp(upstream, client, ec)) {
          break;
        }
        http::read_header(upstream, upstreamBuffer, *final, ec);
        if (ec) break;
        const unsigned code = final->get().result_int();
        if (code < 100 || code >= 200 || code == 101) break;
        http::response<http::empty_body> interim{final->get().base()};
        http::response_serializer<http::empty_body> interimWriter{interim};
        interimWriter.split(true);
        http::write_header(client, interimWriter, ec);
        if (ec) break;
      }
      if (ec) {
        writeAnswer(client, version, false, dockerFailed("reading dockerd's answer"), ec);
        break;
      }
      http::response_parser<http::buffer_body>& response = *final;
      const unsigned status = response.get().result_int();
      const std::string_view contentType = response.get()[http::field::content_type];
      // 101 Switching Protocols, or (older daemons) 200 with a raw stream to an upgrade request.
      const bool hijacked =
          status == 101 ||
          (upgradeAsked && (contentType == "application/vnd.docker.raw-stream" ||
                            contentType == "application/vnd.docker.multiplexed-stream"));
      if (hijacked || method == "HEAD") disarm(upstream);  // no buffered answer follows
      if (method == "HEAD") {
        // No body follows, whatever Content-Length says: forward the head alone.
        http::response<http::empty_body> head{response.get().base()};
        http::response_serializer<http::empty_body> serializer{head};
        serializer.split(true);
        http::write_header(client, serializer, ec);
        if (!response.get().keep_alive()) closeUpstream();
        if (ec || !keepAlive) break;
        continue;
      }
      if (hijacked) {
        // Forward Docker's status line and headers as they are, then pipe both ways.
        http::response<http::empty_body> head{response.get().base()};
        http::response_serializer<http::empty_body> serializer{head};
        serializer.split(true);
        http::write_header(client, serializer, ec);
        if (ec) break;
        std::thread toDocker([&] { pipeOneWay(client, upstream, clientBuffer); });
        pipeOneWay(upstream, client, upstreamBuffer);
        toDocker.join();
        break;
      }

      if (!post.empty()) {
        http::response_parser<http::string_body> full{std::move(response)};
        readBuffered(upstream, upstreamBuffer, full, options_.hookBodyLimit, ec);
        disarm(upstream);
        if (ec) {
          writeAnswer(client, version, false, dockerFailed("reading dockerd's answer"), ec);
          break;
        }
        auto answerFromDocker = full.release();
        const bool upstreamKeepAlive = answerFromDocker.keep_alive();
        HttpAnswer result{answerFromDocker.result_int(),
                          std::string(answerFromDocker[http::field::content_type]),
                          answerFromDocker.body()};
        faultPoint("proxy.after-docker");
        result = runPostHooks(post, method, target, originalBody, requestId, std::move(result));
        auto out = hookedResponse(answerFromDocker, result, version, keepAlive);
        http::write(client, out, ec);
        if (!upstreamKeepAlive) closeUpstream();
      } else {
        const bool upstreamKeepAlive = response.get().keep_alive();
        relayMessage(client, upstream, upstreamBuffer, response, ec);
        if (!upstreamKeepAlive) closeUpstream();
      }
      if (ec || !keepAlive) break;
    }
  } catch (const std::exception& e) {
    spdlog::warn("proxy: connection ended: {}", e.what());
  }
  closeUpstream();
  track(client, false);
  error_code ignored;
  client.shutdown(asio::socket_base::shutdown_both, ignored);
  client.close(ignored);
}

void DockerProxy::Impl::stop() {
  if (stopping_.exchange(true)) return;
  error_code ignored;
  for (auto& acceptor : tcp_) {
    ::shutdown(acceptor->native_handle(), SHUT_RDWR);
    acceptor->close(ignored);
  }
  for (auto& acceptor : unix_) {
    ::shutdown(acceptor->native_handle(), SHUT_RDWR);
    acceptor->close(ignored);
  }
  for (auto& thread : acceptors_) thread.join();
  acceptors_.clear();
  if (reaper_.joinable()) reaper_.join();
  // Requests the adapter acts on (an attach, a start, a removal) finish first, bounded.
  const auto drainUntil = std::chrono::steady_clock::now() + options_.drainTimeout;
  while (hookedInFlight_ > 0 && std::chrono::steady_clock::now() < drainUntil) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (hookedInFlight_ > 0) {
    spdlog::warn("proxy: {} request(s) with hooks still running after {} ms: ended",
                 hookedInFlight_.load(), options_.drainTimeout.count());
  }
  if (tls_) tls_->stop();
  {
    std::scoped_lock lock(mutex_);
    for (int fd : openFds_) ::shutdown(fd, SHUT_RDWR);  // sessions see EOF and end
  }
  for (int i = 0; i < 500 && sessions_ > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const ListenAddress& address : bound_) {
    if (address.kind == ListenAddress::Kind::Unix) ::unlink(address.path.c_str());
  }
}

DockerProxy::DockerProxy(ProxyOptions options, std::vector<HookRule> rules)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(rules))) {}
DockerProxy::~DockerProxy() { stop(); }
std::expected<void, std::string> DockerProxy::start() { return impl_->start(); }
std::vector<ListenAddress> DockerProxy::addresses() const { return impl_->addresses(); }
void DockerProxy::stop() { impl_->stop(); }

}  // namespace ovsplane::adapter
