/* Shared between the shim_*.c files only. Includes OVS headers: never include from C++. */
#ifndef OVSPLANE_OVSDB_SHIM_PRIVATE_H
#define OVSPLANE_OVSDB_SHIM_PRIVATE_H

#include "ovsdb-idl.h"
#include "shim.h"
#include "smap.h"

struct ovsplane_idl {
  enum ovsplane_db db;
  struct ovsdb_idl* idl;
  char* remote; /* as given, or rotated by ovsplane_idl_rotate_remotes() */
  /* State database only: Address rows by (network, ip) and by (network, owner). */
  struct ovsdb_idl_index* address_by_ip;
  struct ovsdb_idl_index* address_by_owner;
};

/* Creates the state database's IDL indexes (called by ovsplane_idl_create). */
void ovsplane_st_create_indexes(struct ovsplane_idl*);

struct ovsplane_txn {
  struct ovsplane_idl* owner;
  struct ovsdb_idl_txn* txn;
  enum ovsplane_txn_status status;
};

/* Fills 'smap' from 'kvs' (smap_init()ed by the caller). */
void ovsplane_kvs_to_smap(struct ovsplane_kvs kvs, struct smap* smap);
/* A kv array view of 'smap', valid while 'smap' is; free() the returned items. */
struct ovsplane_kvs ovsplane_smap_to_kvs(const struct smap* smap);

#endif
