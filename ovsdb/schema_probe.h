#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace ovsplane::ovsdb {

/** The OVSDB databases whose schemas ovsplane compiles in. */
enum class Database {
  OpenVSwitch,  ///< Open vSwitch's configuration database: the four tables ovsplane uses.
  State,        ///< ovsplane's own state database (ovsdb/ovsplane.ovsschema).
};

/** The OVSDB name of a database, e.g. "Open_vSwitch". */
std::string_view databaseName(Database database);

/** What a server serves of a compiled-in schema. */
struct ServerSchema {
  std::string database;             ///< OVSDB database name.
  std::vector<std::string> tables;  ///< Compiled-in tables the server also serves, IDL order.
};

/**
 * Connects the libopenvswitch IDL to `remote` ("unix:/path", "tcp:127.0.0.1:6640", or several
 * comma-separated), waits for the first snapshot of `database` and reports which of the schema's
 * tables the server serves. Blocks the calling thread for at most `timeout`; keeps no connection.
 * Errors: a message naming the remote when no snapshot arrived in time (server down, database not
 * served).
 */
std::expected<ServerSchema, std::string> probeServerSchema(std::string_view remote,
                                                           Database database,
                                                           std::chrono::milliseconds timeout);

}  // namespace ovsplane::ovsdb
