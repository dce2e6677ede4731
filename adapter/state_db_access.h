#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "ovsdb/client.h"

namespace ovsplane::adapter {

/** How this process reaches the state database: its remote(s) and, for ssl: remotes, its TLS
 *  identity (flags --state-db, --state-db-key, --state-db-cert, --state-db-ca). */
struct StateDbAccess {
  std::string remote = "unix:/var/run/ovsplane/state.sock";
  std::string key;   ///< PEM private key
  std::string cert;  ///< PEM certificate (chain) presented to the servers
  std::string ca;    ///< PEM CA certificate the servers' certificates must be signed by
  /** The TLS part of the client options (check the access first). */
  ovsdb::SslFiles ssl() const { return {key, cert, ca}; }
};

/**
 * Checks `access` before anything connects:
 *  - every entry of the remote list is unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT;
 *  - an ssl: entry needs the key, the certificate and the CA: readable PEM, the key matching
 *    the certificate;
 *  - the files without an ssl: entry are refused (a typo in a remote would otherwise talk in
 *    plain text while the operator believes it encrypted).
 * Errors name the flag and the file. Reads the files; changes nothing.
 */
std::expected<void, std::string> checkStateDbAccess(const StateDbAccess& access);

/** True when `remotes` has a tcp: entry: plain text on the network, which anyone on the path
 *  can read and write (the daemon warns). Pure. */
bool hasPlainTcpRemote(std::string_view remotes);

}  // namespace ovsplane::adapter
