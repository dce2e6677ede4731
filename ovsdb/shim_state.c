/* ovsplane state database operations of the C shim (Network, Address, Host). */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ovsplane-idl.h"
#include "shim_private.h"
#include "timeval.h"

void ovsplane_st_create_indexes(struct ovsplane_idl* idl) {
  idl->address_by_ip =
      ovsdb_idl_index_create2(idl->idl, &ovsplane_address_col_network, &ovsplane_address_col_ip);
  idl->address_by_owner =
      ovsdb_idl_index_create2(idl->idl, &ovsplane_address_col_network, &ovsplane_address_col_owner);
}

static const struct ovsplane_network* find_network(const struct ovsdb_idl* idl, const char* cidr) {
  const struct ovsplane_network* net;
  OVSPLANE_NETWORK_FOR_EACH(net, idl) {
    if (!strcmp(net->cidr, cidr)) {
      return net;
    }
  }
  return NULL;
}

static void fill_network(const struct ovsplane_network* net, struct ovsplane_st_network* out) {
  const char* cursor = smap_get(&net->external_ids, "last_reserved");
  const char* nat = smap_get(&net->external_ids, "nat");
  *out = (struct ovsplane_st_network){
      .cidr = net->cidr,
      .gateway = net->gateway,
      .vni = net->vni,
      .created_at = net->created_at,
      .last_reserved = cursor ? cursor : "",
      .nat = !nat || strcmp(nat, "false") != 0,
  };
}

static void fill_address(const struct ovsplane_address* row, struct ovsplane_st_address* out) {
  const char* created = smap_get(&row->external_ids, "created_at");
  *out = (struct ovsplane_st_address){
      .created_at = created ? atoll(created) : 0,
      .cidr = row->network ? row->network->cidr : "",
      .ip = row->ip,
      .owner = row->owner,
      .host = row->host,
      .mac = row->mac,
  };
}

bool ovsplane_st_find_network(const struct ovsplane_idl* idl, const char* cidr,
                              struct ovsplane_st_network* out) {
  const struct ovsplane_network* net = find_network(idl->idl, cidr);
  if (net) {
    fill_network(net, out);
  }
  return net != NULL;
}

void ovsplane_st_networks(const struct ovsplane_idl* idl,
                          void (*cb)(void*, const struct ovsplane_st_network*), void* ctx) {
  const struct ovsplane_network* net;
  OVSPLANE_NETWORK_FOR_EACH(net, idl->idl) {
    struct ovsplane_st_network info;
    fill_network(net, &info);
    cb(ctx, &info);
  }
}

bool ovsplane_st_vni_in_use(const struct ovsplane_idl* idl, long long vni) {
  const struct ovsplane_network* net;
  OVSPLANE_NETWORK_FOR_EACH(net, idl->idl) {
    if (net->vni == vni) {
      return true;
    }
  }
  return false;
}

void ovsplane_st_insert_network(struct ovsplane_txn* txn, const char* cidr, const char* gateway,
                                long long vni, long long created_at, bool nat) {
  struct ovsplane_network* net = ovsplane_network_insert(txn->txn);
  ovsplane_network_set_cidr(net, cidr);
  ovsplane_network_set_gateway(net, gateway);
  ovsplane_network_set_vni(net, vni);
  ovsplane_network_set_created_at(net, created_at);
  if (!nat) {
    ovsplane_network_update_external_ids_setkey(net, "nat", "false");
  }
}

int ovsplane_st_delete_network(struct ovsplane_txn* txn, const char* cidr) {
  const struct ovsplane_network* net = find_network(txn->owner->idl, cidr);
  if (!net) {
    return ENOENT;
  }
  ovsplane_network_delete(net);
  return 0;
}

static const struct ovsplane_address* lookup(struct ovsdb_idl_index* index,
                                             const struct ovsplane_network* net, const char* ip,
                                             const char* owner) {
  struct ovsplane_address* key = ovsplane_address_index_init_row(index);
  ovsplane_address_index_set_network(key, net);
  if (ip) {
    ovsplane_address_index_set_ip(key, ip);
  } else {
    ovsplane_address_index_set_owner(key, owner);
  }
  const struct ovsplane_address* found = ovsplane_address_index_find(index, key);
  ovsplane_address_index_destroy_row(key);
  return found;
}

static const struct ovsplane_address* address_by_ip(const struct ovsplane_idl* idl,
                                                    const struct ovsplane_network* net,
                                                    const char* ip) {
  return lookup(idl->address_by_ip, net, ip, NULL);
}

static const struct ovsplane_address* address_by_owner(const struct ovsplane_idl* idl,
                                                       const struct ovsplane_network* net,
                                                       const char* owner) {
  return lookup(idl->address_by_owner, net, NULL, owner);
}

bool ovsplane_st_address_by_ip(const struct ovsplane_idl* idl, const char* cidr, const char* ip,
                               struct ovsplane_st_address* out) {
  const struct ovsplane_network* net = find_network(idl->idl, cidr);
  const struct ovsplane_address* row = net ? address_by_ip(idl, net, ip) : NULL;
  if (row) {
    fill_address(row, out);
  }
  return row != NULL;
}

bool ovsplane_st_address_by_owner(const struct ovsplane_idl* idl, const char* cidr,
                                  const char* owner, struct ovsplane_st_address* out) {
  const struct ovsplane_network* net = find_network(idl->idl, cidr);
  const struct ovsplane_address* row = net ? address_by_owner(idl, net, owner) : NULL;
  if (row) {
    fill_address(row, out);
  }
  return row != NULL;
}

void ovsplane_st_addresses(const struct ovsplane_idl* idl, const char* cidr,
                           void (*cb)(void*, const struct ovsplane_st_address*), void* ctx) {
  const struct ovsplane_address* row;
  if (!cidr) {
    OVSPLANE_ADDRESS_FOR_EACH(row, idl->idl) {
      struct ovsplane_st_address info;
      fill_address(row, &info);
      cb(ctx, &info);
    }
    return;
  }
  const struct ovsplane_network* net = find_network(idl->idl, cidr);
  if (!net) {
    return;
  }
  struct ovsplane_address* key = ovsplane_address_index_init_row(idl->address_by_ip);
  ovsplane_address_index_set_network(key, net);
  /* The index orders by (network, ip): start at (net, "") and stop at the next network. */
  ovsplane_address_index_set_ip(key, "");
  for (struct ovsdb_idl_cursor cursor = ovsplane_address_cursor_first_ge(idl->address_by_ip, key);
       cursor.position; ovsdb_idl_cursor_next(&cursor)) {
    row = ovsplane_address_cursor_data(&cursor);
    if (row->network != net) {
      break;
    }
    struct ovsplane_st_address info;
    fill_address(row, &info);
    cb(ctx, &info);
  }
  ovsplane_address_index_destroy_row(key);
}

uint32_t ovsplane_st_first_free(const struct ovsplane_idl* idl, const char* cidr, uint32_t from,
                                uint32_t to, uint32_t skip) {
  const struct ovsplane_network* net = find_network(idl->idl, cidr);
  for (uint64_t candidate = from; candidate <= to; candidate++) {
    if (candidate == skip) {
      continue;
    }
    if (!net) {
      return (uint32_t)candidate;
    }
    struct in_addr in = {.s_addr = htonl((uint32_t)candidate)};
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in, text, sizeof text);
    if (!address_by_ip(idl, net, text)) {
      return (uint32_t)candidate;
    }
  }
  return 0;
}

int ovsplane_st_insert_address(struct ovsplane_txn* txn, const char* cidr, const char* ip,
                               const char* owner, const char* host, const char* mac) {
  const struct ovsplane_network* net = find_network(txn->owner->idl, cidr);
  if (!net) {
    return ENOENT;
  }
  struct ovsplane_address* row = ovsplane_address_insert(txn->txn);
  ovsplane_address_set_network(row, net);
  ovsplane_address_set_ip(row, ip);
  ovsplane_address_set_owner(row, owner);
  ovsplane_address_set_host(row, host);
  ovsplane_address_set_mac(row, mac);
  /* When it was reserved: the reconciler leaves young rows to the attach that made them. */
  struct smap ids = SMAP_INITIALIZER(&ids);
  smap_add_format(&ids, "created_at", "%lld", time_wall_msec());
  ovsplane_address_set_external_ids(row, &ids);
  smap_destroy(&ids);
  /* A mutate of one key: concurrent allocations do not conflict on it (last writer wins). */
  ovsplane_network_update_external_ids_setkey(net, "last_reserved", ip);
  return 0;
}

bool ovsplane_st_delete_address_by_ip(struct ovsplane_txn* txn, const char* cidr, const char* ip) {
  const struct ovsplane_network* net = find_network(txn->owner->idl, cidr);
  const struct ovsplane_address* row = net ? address_by_ip(txn->owner, net, ip) : NULL;
  if (row) {
    ovsplane_address_delete(row);
  }
  return row != NULL;
}

bool ovsplane_st_delete_address_by_owner(struct ovsplane_txn* txn, const char* cidr,
                                         const char* owner) {
  const struct ovsplane_network* net = find_network(txn->owner->idl, cidr);
  const struct ovsplane_address* row = net ? address_by_owner(txn->owner, net, owner) : NULL;
  if (row) {
    ovsplane_address_delete(row);
  }
  return row != NULL;
}

void ovsplane_st_hosts(const struct ovsplane_idl* idl,
                       void (*cb)(void*, const struct ovsplane_st_host*), void* ctx) {
  const struct ovsplane_host* host;
  OVSPLANE_HOST_FOR_EACH(host, idl->idl) {
    struct ovsplane_st_host info = {
        .name = host->name, .vtep_ip = host->vtep_ip, .last_seen = host->last_seen};
    cb(ctx, &info);
  }
}

static const struct ovsplane_host* find_host(const struct ovsdb_idl* idl, const char* name) {
  const struct ovsplane_host* host;
  OVSPLANE_HOST_FOR_EACH(host, idl) {
    if (!strcmp(host->name, name)) {
      return host;
    }
  }
  return NULL;
}

void ovsplane_st_upsert_host(struct ovsplane_txn* txn, const char* name, const char* vtep_ip,
                             long long last_seen) {
  const struct ovsplane_host* host = find_host(txn->owner->idl, name);
  if (!host) {
    struct ovsplane_host* row = ovsplane_host_insert(txn->txn);
    ovsplane_host_set_name(row, name);
    host = row;
  }
  if (strcmp(host->vtep_ip, vtep_ip)) {
    ovsplane_host_set_vtep_ip(host, vtep_ip);
  }
  ovsplane_host_set_last_seen(host, last_seen);
}

bool ovsplane_st_delete_host(struct ovsplane_txn* txn, const char* name) {
  const struct ovsplane_host* host = find_host(txn->owner->idl, name);
  if (host) {
    ovsplane_host_delete(host);
  }
  return host != NULL;
}
