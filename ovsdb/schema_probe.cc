#include "ovsdb/schema_probe.h"

#include "ovsdb/client.h"
#include "shim.h"

namespace ovsplane::ovsdb {

std::string_view databaseName(Database database) {
  return ovsplane_db_name(database == Database::State ? OVSPLANE_DB_STATE
                                                      : OVSPLANE_DB_OPEN_VSWITCH);
}

std::expected<ServerSchema, std::string> probeServerSchema(std::string_view remote,
                                                           Database database,
                                                           std::chrono::milliseconds timeout) {
  IdlClient client(
      database,
      ClientOptions{.remote = std::string(remote), .leaderOnly = false, .timeout = timeout});
  auto future = client.submit<ServerSchema>(
      [database](JobContext& context, IdlClient::Completion<ServerSchema>& done) -> JobStep {
        ServerSchema schema{.database = std::string(databaseName(database)), .tables = {}};
        ovsplane_idl_tables(
            context.idl(),
            [](void* out, const char* table) {
              static_cast<ServerSchema*>(out)->tables.emplace_back(table);
            },
            &schema);
        done.set(std::move(schema));
        return JobDone{};
      });
  auto result = future.get();
  if (!result) {
    return std::unexpected(result.error().message);
  }
  return *result;
}

}  // namespace ovsplane::ovsdb
