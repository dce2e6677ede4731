#pragma once

#include <expected>
#include <functional>
#include <memory>
#include <string>

namespace ovsplane::adapter {

/** TLS for the proxy's TCP listeners, in dockerd's terms (--tlscert/--tlskey/--tlscacert). */
struct TlsOptions {
  std::string certFile;      ///< PEM certificate chain of the server
  std::string keyFile;       ///< PEM private key
  std::string clientCaFile;  ///< non-empty: clients must present a certificate signed by it
};

/**
 * Terminates TLS in front of the proxy. adopt() takes an accepted TCP connection; after the
 * handshake (TLS 1.2 or newer, 10 s at most) the plaintext is relayed through a socketpair
 * whose other end is handed to `serve` (which owns it), so the proxy's code is the same for
 * TLS and plain connections. All TLS I/O runs on one internal thread (one read and one write
 * in flight per connection). Half-close is kept: a client's close_notify or FIN half-closes
 * the plaintext side; the plaintext side's EOF becomes a TCP FIN to the client (Go's TLS reads
 * it as EOF). Thread-safe. stop() ends all TLS work (connections handed over keep their
 * plaintext side until the proxy closes it); destruction closes every TLS connection.
 */
class TlsFront {
 public:
  using ServePlain = std::function<void(int plainFd)>;

  /** Loads the certificate, key and CA; errors name the file. */
  static std::expected<std::unique_ptr<TlsFront>, std::string> create(const TlsOptions& options,
                                                                      ServePlain serve);
  ~TlsFront();
  TlsFront(const TlsFront&) = delete;
  TlsFront& operator=(const TlsFront&) = delete;

  /** Takes ownership of an accepted TCP socket (address family `family`). */
  void adopt(int tcpFd, int family);
  void stop();

  class Impl;  ///< opaque

 private:
  explicit TlsFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ovsplane::adapter
