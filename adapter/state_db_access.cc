#include "adapter/state_db_access.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <vector>

#include <fmt/format.h>

namespace ovsplane::adapter {
namespace {

std::vector<std::string_view> remoteEntries(std::string_view remotes) {
  std::vector<std::string_view> out;
  while (!remotes.empty()) {
    const auto comma = remotes.find(',');
    out.push_back(remotes.substr(0, comma));
    if (comma == std::string_view::npos) break;
    remotes.remove_prefix(comma + 1);
  }
  return out;
}

/** OpenSSL's reason for the last failure (its error queue emptied). */
std::string lastSslError() {
  std::string reason = "unusable";
  if (const unsigned long code = ERR_get_error(); code != 0) {
    if (const char* text = ERR_reason_error_string(code); text != nullptr) reason = text;
  }
  ERR_clear_error();
  return reason;
}

/** A key, a certificate and a CA that OpenSSL loads, the key matching the certificate. */
std::expected<void, std::string> loadIdentity(const StateDbAccess& access) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_method()),
                                                            &SSL_CTX_free);
  if (!context) return std::unexpected("TLS: " + lastSslError());
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(context.get(), access.cert.c_str()) != 1) {
    return std::unexpected(fmt::format("--state-db-cert {}: {}", access.cert, lastSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), access.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Loading checks the key against the certificate already.
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return std::unexpected(fmt::format("--state-db-key {} is not the key of --state-db-cert {}",
                                         access.key, access.cert));
    }
    return std::unexpected(fmt::format("--state-db-key {}: {}", access.key, lastSslError()));
  }
  if (SSL_CTX_load_verify_locations(context.get(), access.ca.c_str(), nullptr) != 1) {
    return std::unexpected(fmt::format("--state-db-ca {}: {}", access.ca, lastSslError()));
  }
  return {};
}

}  // namespace

std::expected<void, std::string> checkStateDbAccess(const StateDbAccess& access) {
  bool ssl = false;
  const auto entries = remoteEntries(access.remote);
  if (entries.empty()) return std::unexpected(std::string("--state-db: no remote given"));
  for (std::string_view entry : entries) {
    const bool known =
        entry.starts_with("unix:") || entry.starts_with("tcp:") || entry.starts_with("ssl:");
    if (!known || entry.find(':') + 1 == entry.size()) {
      return std::unexpected(
          fmt::format("--state-db {}: \"{}\" is not unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT",
                      access.remote, entry));
    }
    ssl = ssl || entry.starts_with("ssl:");
  }
  const bool anyFile = !access.key.empty() || !access.cert.empty() || !access.ca.empty();
  if (!ssl) {
    if (anyFile) {
      return std::unexpected(
          fmt::format("--state-db-key/--state-db-cert/--state-db-ca are for ssl: remotes, and "
                      "--state-db {} has none (write ssl:HOST:PORT to encrypt)",
                      access.remote));
    }
    return {};
  }
  if (access.key.empty() || access.cert.empty() || access.ca.empty()) {
    return std::unexpected(fmt::format(
        "--state-db {}: an ssl: remote needs --state-db-key, --state-db-cert and --state-db-ca "
        "(this host's key and certificate, and the CA that signed the servers' certificates)",
        access.remote));
  }
  return loadIdentity(access);
}

bool hasPlainTcpRemote(std::string_view remotes) {
  for (std::string_view entry : remoteEntries(remotes)) {
    if (entry.starts_with("tcp:")) return true;
  }
  return false;
}

}  // namespace ovsplane::adapter
