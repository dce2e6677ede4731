#include "ovsdb/schema_probe.h"

#include <array>

#include "idl_shim.h"

namespace ovsplane::ovsdb {
namespace {

ovsplane_db toC(Database database) {
  return database == Database::State ? OVSPLANE_DB_STATE : OVSPLANE_DB_OPEN_VSWITCH;
}

}  // namespace

std::string_view databaseName(Database database) { return ovsplane_db_name(toC(database)); }

std::expected<ServerSchema, std::string> probeServerSchema(std::string_view remote,
                                                           Database database,
                                                           std::chrono::milliseconds timeout) {
  ServerSchema schema{.database = std::string(databaseName(database)), .tables = {}};
  std::array<char, 512> error{};
  const std::string remoteCopy(remote);
  auto collect = [](void* context, const char* table) {
    static_cast<ServerSchema*>(context)->tables.emplace_back(table);
  };
  const int rc =
      ovsplane_probe_schema(remoteCopy.c_str(), toC(database), static_cast<int>(timeout.count()),
                            collect, &schema, error.data(), error.size());
  if (rc != 0) {
    return std::unexpected(std::string(error.data()));
  }
  return schema;
}

}  // namespace ovsplane::ovsdb
