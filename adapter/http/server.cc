#include "adapter/http/server.h"

#include "adapter/http/listen.h"

#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ovsplane::adapter {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(static_cast<int>(std::max(1U, options_.ioThreads))),
        work_(asio::make_work_guard(ioc_)),
        handlers_(std::max(1U, options_.handlerThreads)) {}

  std::expected<void, std::string> start();
  std::vector<ListenAddress> addresses() const { return bound_; }
  void stop(std::chrono::milliseconds grace);

  // Accounting of requests between "read complete" and "answer written".
  void requestStarted() { ++inflight_; }
  void requestFinished() {
    if (--inflight_ == 0) {
      std::scoped_lock lock(mutex_);
      idle_.notify_all();
    }
  }
  const HttpServerOptions& options() const { return options_; }
  HttpHandler& handler() { return handler_; }
  asio::thread_pool& handlers() { return handlers_; }
  bool stopping() const { return stopping_; }
  void sessionOpened() { ++sessions_; }
  void sessionClosed() { --sessions_; }

 private:
  template <typename Acceptor>
  void accept(std::shared_ptr<Acceptor> acceptor);

  HttpServerOptions options_;
  HttpHandler handler_;
  // Before ioc_: sessions still queued in it when it is destroyed count themselves out here.
  std::atomic<int> sessions_{0};
  asio::io_context ioc_;
  // Keeps ioc_.run() going while a request sits in the handler pool with no socket operation
  // pending (after stop() closed the acceptors, that is all there may be).
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::thread_pool handlers_;
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> tcpAcceptors_;
  std::vector<std::shared_ptr<asio::local::stream_protocol::acceptor>> unixAcceptors_;
  std::vector<ListenAddress> bound_;
  std::atomic<int> inflight_{0};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::mutex mutex_;
  std::condition_variable idle_;
};

namespace {

template <typename Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>> {
 public:
  Session(typename Protocol::socket socket, HttpServer::Impl& server)
      : stream_(std::move(socket)), server_(server) {
    server_.sessionOpened();
  }
  ~Session() { server_.sessionClosed(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    if (server_.stopping()) return close();
    parser_.emplace();
    parser_->body_limit(server_.options().bodyLimit);
    parser_->header_limit(server_.options().headerLimit);
    stream_.expires_after(server_.options().ioTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->onRead(ec); });
  }

  void onRead(error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::header_limit) {
      return reply(errorAnswer(431, fmt::format("request header larger than {} bytes",
                                                server_.options().headerLimit)),
                   false, false);
    }
    if (ec == http::error::body_limit) {
      return reply(errorAnswer(413, fmt::format("request body larger than {} bytes",
                                                server_.options().bodyLimit)),
                   false, false);
    }
    if (ec) {
      return reply(errorAnswer(400, fmt::format("bad HTTP request: {}", ec.message())), false,
                   false);
    }
    auto request = std::make_shared<http::request<http::string_body>>(parser_->release());
    const bool keepAlive = request->keep_alive();
    server_.requestStarted();
    // The handler may block (Docker, OVSDB): run it off the socket threads.
    asio::post(server_.handlers(), [self = this->shared_from_this(), request, keepAlive] {
      HttpAnswer answer;
      try {
        answer = self->server_.handler()(HttpRequestView{.method = request->method_string(),
                                                         .target = request->target(),
                                                         .body = request->body()});
      } catch (const std::exception& e) {
        answer = errorAnswer(500, fmt::format("internal error: {}", e.what()));
      }
      asio::post(self->stream_.get_executor(), [self, answer = std::move(answer), keepAlive] {
        self->reply(answer, keepAlive, true);
      });
    });
  }

  void reply(const HttpAnswer& answer, bool keepAlive, bool counted) {
    response_ = {};
    response_.version(11);
    response_.result(answer.status);
    response_.set(http::field::server, "ovsplane");
    response_.set(http::field::content_type, answer.contentType);
    response_.body() = answer.body;
    response_.keep_alive(keepAlive && !server_.stopping());
    response_.prepare_payload();
    stream_.expires_after(server_.options().ioTimeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), counted](error_code writeError, size_t) {
                        if (counted) self->server_.requestFinished();
                        if (writeError || !self->response_.keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  HttpServer::Impl& server_;
};

}  // namespace

template <typename Acceptor>
void HttpServer::Impl::accept(std::shared_ptr<Acceptor> acceptor) {
  using Protocol = typename Acceptor::protocol_type;
  acceptor->async_accept(
      asio::make_strand(ioc_), [this, acceptor](error_code ec, typename Protocol::socket socket) {
        if (ec == asio::error::operation_aborted || stopping_) return;
        if (!ec && sessions_ >= options_.maxConnections) {
          // Written without waiting (a client that does not read loses it), then closed.
          const std::string text = closingResponseText(errorAnswer(
              503,
              fmt::format("too many connections ({}): try again later", options_.maxConnections)));
          error_code ignored;
          socket.non_blocking(true, ignored);
          socket.write_some(asio::buffer(text), ignored);
          socket.close(ignored);
        } else if (!ec) {
          std::make_shared<Session<Protocol>>(std::move(socket), *this)->run();
        } else if (acceptFailureIsExhaustion(ec)) {
          // Out of descriptors: wait for some to be closed instead of spinning.
          spdlog::warn("hook server: accept: {} (backing off)", ec.message());
          auto timer = std::make_shared<asio::steady_timer>(ioc_, kAcceptBackoff);
          timer->async_wait([this, acceptor, timer](error_code) {
            if (!stopping_) accept(acceptor);
          });
          return;
        } else {
          spdlog::warn("hook server: accept failed: {}", ec.message());
        }
        accept(acceptor);
      });
}

std::expected<void, std::string> HttpServer::Impl::start() {
  for (const ListenAddress& address : options_.listen) {
    if (address.kind == ListenAddress::Kind::Unix) {
      auto acceptor = openUnixListener(ioc_, address.path, options_.unixSocketMode);
      if (!acceptor) return std::unexpected(acceptor.error());
      unixAcceptors_.push_back(std::move(*acceptor));
      bound_.push_back(address);
      accept(unixAcceptors_.back());
    } else {
      auto acceptor = openTcpListener(ioc_, address.host, address.port);
      if (!acceptor) return std::unexpected(acceptor.error());
      ListenAddress actual = address;
      actual.port = (*acceptor)->local_endpoint().port();
      tcpAcceptors_.push_back(std::move(*acceptor));
      bound_.push_back(actual);
      accept(tcpAcceptors_.back());
    }
  }
  for (unsigned i = 0; i < std::max(1U, options_.ioThreads); ++i) {
    threads_.emplace_back([this] {
      // A handler that throws (it must not) costs its connection, never the process.
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http server: a connection ended on an exception: {}", e.what());
        }
      }
    });
  }
  started_ = true;
  return {};
}

void HttpServer::Impl::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  asio::post(ioc_, [this] {
    error_code ignored;
    for (auto& acceptor : tcpAcceptors_) acceptor->close(ignored);
    for (auto& acceptor : unixAcceptors_) acceptor->close(ignored);
  });
  {
    std::unique_lock lock(mutex_);
    idle_.wait_for(lock, grace, [this] { return inflight_ == 0; });
  }
  handlers_.join();
  work_.reset();
  ioc_.stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  for (const ListenAddress& address : bound_) {
    if (address.kind == ListenAddress::Kind::Unix) ::unlink(address.path.c_str());
  }
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { stop(); }

std::expected<void, std::string> HttpServer::start() { return impl_->start(); }

std::vector<ListenAddress> HttpServer::addresses() const { return impl_->addresses(); }

void HttpServer::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

}  // namespace ovsplane::adapter
