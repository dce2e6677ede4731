#include "adapter/tls_front.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <thread>

namespace ovsplane::adapter {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using error_code = boost::system::error_code;
using Tcp = asio::ip::tcp;
using Local = asio::local::stream_protocol;

/** One TLS connection and its plaintext socketpair end; lives while a handler holds it. */
class TlsSession : public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(asio::io_context& ioc, ssl::context& context, Tcp::socket socket)
      : tls_(std::move(socket), context), plain_(ioc), handshakeTimer_(ioc) {}

  void start(const TlsFront::ServePlain& serve) {
    handshakeTimer_.expires_after(std::chrono::seconds(10));
    handshakeTimer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && !self->handshakeDone_) self->closeAll();  // no handshake in time
    });
    tls_.async_handshake(
        ssl::stream_base::server, [self = shared_from_this(), serve](error_code ec) {
          self->handshakeDone_ = true;  // a timer already due is ignored
          self->handshakeTimer_.cancel();
          if (ec) {
            spdlog::debug("proxy: TLS handshake failed: {}", ec.message());
            self->closeAll();
            return;
          }
          Local::socket other(self->plain_.get_executor());
          error_code pairEc;
          asio::local::connect_pair(self->plain_, other, pairEc);
          if (pairEc) {
            spdlog::warn("proxy: socketpair for a TLS client: {}", pairEc.message());
            self->closeAll();
            return;
          }
          serve(other.release());
          self->readTls();
          self->readPlain();
        });
  }

 private:
  void readTls() {
    relay(tls_, plain_, fromClient_, &TlsSession::readTls, [](TlsSession& self) {
      error_code ignored;  // close_notify, FIN or an error: the client sends no more
      self.plain_.shutdown(Local::socket::shutdown_send, ignored);
      self.clientDone_ = true;
      return self.proxyDone_;
    });
  }

  void readPlain() {
    relay(plain_, tls_, toClient_, &TlsSession::readPlain, [](TlsSession& self) {
      error_code ignored;  // the proxy finished this connection (or half of it)
      self.tls_.next_layer().shutdown(Tcp::socket::shutdown_send, ignored);
      self.proxyDone_ = true;
      return self.clientDone_;
    });
  }

  /** One read from `from`, written to `to`, then `again`; at the end `finish`, which says
   *  whether both directions are now done. */
  template <typename From, typename To, typename Finish>
  void relay(From& from, To& to, std::array<char, 32 * 1024>& buffer, void (TlsSession::*again)(),
             Finish finish) {
    from.async_read_some(asio::buffer(buffer), [self = shared_from_this(), &to, &buffer, again,
                                                finish](error_code, size_t n) {
      if (n == 0) {
        if (finish(*self)) self->closeAll();
        return;
      }
      asio::async_write(to, asio::buffer(buffer.data(), n), [self, again](error_code ec, size_t) {
        if (ec) return self->closeAll();
        ((*self).*again)();
      });
    });
  }

  void closeAll() {
    error_code ignored;
    tls_.next_layer().close(ignored);
    plain_.close(ignored);
  }

  ssl::stream<Tcp::socket> tls_;
  Local::socket plain_;
  asio::steady_timer handshakeTimer_;
  std::array<char, 32 * 1024> fromClient_{};
  std::array<char, 32 * 1024> toClient_{};
  bool handshakeDone_ = false;
  bool clientDone_ = false;
  bool proxyDone_ = false;
};

}  // namespace

class TlsFront::Impl {
 public:
  Impl(ServePlain serve)
      : context_(ssl::context::tls_server), serve_(std::move(serve)), work_(ioc_.get_executor()) {}

  ssl::context context_;
  ServePlain serve_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

std::expected<std::unique_ptr<TlsFront>, std::string> TlsFront::create(const TlsOptions& options,
                                                                       ServePlain serve) {
  auto impl = std::make_unique<Impl>(std::move(serve));
  auto& context = impl->context_;
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  context.use_certificate_chain_file(options.certFile, ec);
  if (ec) return std::unexpected("TLS certificate " + options.certFile + ": " + ec.message());
  context.use_private_key_file(options.keyFile, ssl::context::pem, ec);
  if (ec) return std::unexpected("TLS key " + options.keyFile + ": " + ec.message());
  if (!options.clientCaFile.empty()) {
    context.load_verify_file(options.clientCaFile, ec);
    if (ec) return std::unexpected("TLS CA " + options.clientCaFile + ": " + ec.message());
    context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  impl->thread_ = std::thread([raw = impl.get()] { raw->ioc_.run(); });
  return std::unique_ptr<TlsFront>(new TlsFront(std::move(impl)));
}

TlsFront::TlsFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsFront::~TlsFront() { stop(); }

void TlsFront::adopt(int tcpFd, int family) {
  if (impl_->ioc_.stopped()) {
    ::close(tcpFd);  // stopping: nobody would run the handshake
    return;
  }
  asio::post(impl_->ioc_, [this, tcpFd, family] {
    Tcp::socket socket(impl_->ioc_);
    error_code ec;
    socket.assign(family == AF_INET6 ? Tcp::v6() : Tcp::v4(), tcpFd, ec);
    if (ec) {
      ::close(tcpFd);
      return;
    }
    std::make_shared<TlsSession>(impl_->ioc_, impl_->context_, std::move(socket))
        ->start(impl_->serve_);
  });
}

void TlsFront::stop() {
  if (!impl_->thread_.joinable()) return;
  impl_->work_.reset();
  impl_->ioc_.stop();
  impl_->thread_.join();
}

}  // namespace ovsplane::adapter
