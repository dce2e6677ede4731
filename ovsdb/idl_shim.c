#include <config.h>

#include "idl_shim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/vswitch-idl.h"
#include "openvswitch/poll-loop.h"
#include "ovsdb-idl.h"
#include "ovsplane-idl.h"
#include "timeval.h"

static const struct ovsdb_idl_class* idl_class(enum ovsplane_db db) {
  return db == OVSPLANE_DB_STATE ? &ovsplane_idl_class : &ovsrec_idl_class;
}

const char* ovsplane_db_name(enum ovsplane_db db) { return idl_class(db)->database; }

int ovsplane_probe_schema(const char* remote, enum ovsplane_db db, int timeout_ms,
                          ovsplane_table_cb cb, void* ctx, char* err, size_t err_len) {
  const struct ovsdb_idl_class* class = idl_class(db);
  struct ovsdb_idl* idl = ovsdb_idl_create(remote, class, true, true);
  long long int deadline = time_msec() + timeout_ms;
  int result = 0;

  while (!ovsdb_idl_has_ever_connected(idl)) {
    ovsdb_idl_run(idl);
    if (ovsdb_idl_has_ever_connected(idl)) {
      break;
    }
    if (time_msec() >= deadline) {
      int last = ovsdb_idl_get_last_error(idl);
      snprintf(err, err_len, "no %s snapshot from %s within %d ms (%s)", class->database, remote,
               timeout_ms,
               last                          ? strerror(last)
               : ovsdb_idl_is_connected(idl) ? "connected, database not served"
                                             : "not connected");
      result = ETIMEDOUT;
      break;
    }
    ovsdb_idl_wait(idl);
    poll_timer_wait_until(deadline);
    poll_block();
  }

  if (!result) {
    for (size_t i = 0; i < class->n_tables; i++) {
      if (ovsdb_idl_server_has_table(idl, &class->tables[i])) {
        cb(ctx, class->tables[i].name);
      }
    }
  }
  ovsdb_idl_destroy(idl);
  return result;
}
