/* The C boundary of ovsdb/: the only code that includes Open vSwitch headers lives in idl_shim.c
 * (and the generated IDL sources). Private to the ovsdb module; the rest of ovsplane uses the C++
 * facade headers next to this file. Plain C types only. */
#ifndef OVSPLANE_OVSDB_IDL_SHIM_H
#define OVSPLANE_OVSDB_IDL_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The databases ovsplane knows the schema of (IDL classes compiled in). */
enum ovsplane_db {
  OVSPLANE_DB_OPEN_VSWITCH = 0, /* vswitchd/vswitch.ovsschema */
  OVSPLANE_DB_STATE = 1,        /* ovsdb/ovsplane.ovsschema */
};

/* The OVSDB database name of 'db' ("Open_vSwitch", "OVSPlane"). */
const char* ovsplane_db_name(enum ovsplane_db db);

typedef void (*ovsplane_table_cb)(void* ctx, const char* table_name);

/* Connects an IDL for 'db' to 'remote' ("unix:/path", "tcp:host:port", comma-separated lists),
 * waits for the first complete snapshot and calls 'cb' once for every table of the compiled-in
 * schema that the server also serves. Blocks the calling thread for at most 'timeout_ms'.
 * Returns 0, or a positive errno value (ETIMEDOUT when no snapshot arrived in time) with a
 * NUL-terminated message in 'err'. Owns nothing after it returns. */
int ovsplane_probe_schema(const char* remote, enum ovsplane_db db, int timeout_ms,
                          ovsplane_table_cb cb, void* ctx, char* err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
