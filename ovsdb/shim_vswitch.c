/* Open_vSwitch database operations of the C shim (bridges, ports, interfaces). */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim_private.h"
#include "vswitch-used-idl.h"

static const struct ovsdb_idl* txn_idl(const struct ovsplane_txn* txn) { return txn->owner->idl; }

static const struct vswitch_bridge* find_bridge(const struct ovsdb_idl* idl, const char* name) {
  const struct vswitch_bridge* br;
  VSWITCH_BRIDGE_FOR_EACH(br, idl) {
    if (!strcmp(br->name, name)) {
      return br;
    }
  }
  return NULL;
}

static const struct vswitch_port* find_port(const struct ovsdb_idl* idl, const char* name) {
  const struct vswitch_port* port;
  VSWITCH_PORT_FOR_EACH(port, idl) {
    if (!strcmp(port->name, name)) {
      return port;
    }
  }
  return NULL;
}

static const struct vswitch_bridge* bridge_of_port(const struct ovsdb_idl* idl,
                                                   const struct vswitch_port* port) {
  const struct vswitch_bridge* br;
  VSWITCH_BRIDGE_FOR_EACH(br, idl) {
    for (size_t i = 0; i < br->n_ports; i++) {
      if (br->ports[i] == port) {
        return br;
      }
    }
  }
  return NULL;
}

/* Whether 'row' is in the database already (not inserted by the open transaction). */
static bool is_stored(const struct ovsdb_idl_row* row) { return row->old_datum != NULL; }

/* Adds 'port' to the ports of 'br'. A stored bridge gets a mutation that names only this port:
 * the transaction's size does not grow with the ports the bridge has, and concurrent additions
 * and removals by other clients do not conflict with it (no verify). A bridge inserted by this
 * transaction gets its whole set written. */
static void add_port(const struct vswitch_bridge* br, const struct vswitch_port* port) {
  if (is_stored(&br->header_)) {
    vswitch_bridge_update_ports_addvalue(br, port);
    return;
  }
  struct vswitch_port** ports = xmalloc((br->n_ports + 1) * sizeof *ports);
  for (size_t i = 0; i < br->n_ports; i++) {
    ports[i] = br->ports[i];
  }
  ports[br->n_ports] = CONST_CAST(struct vswitch_port*, port);
  vswitch_bridge_set_ports(br, ports, br->n_ports + 1);
  free(ports);
}

/* Removes 'port' from the ports of 'br' (the server then collects the port and its interface),
 * like add_port: one mutation on a stored bridge, the whole set on one this transaction made. */
static void remove_port(const struct vswitch_bridge* br, const struct vswitch_port* port) {
  if (is_stored(&br->header_)) {
    vswitch_bridge_update_ports_delvalue(br, port);
    return;
  }
  struct vswitch_port** ports = xmalloc((br->n_ports + 1) * sizeof *ports);
  size_t n = 0;
  for (size_t i = 0; i < br->n_ports; i++) {
    if (br->ports[i] != port) {
      ports[n++] = br->ports[i];
    }
  }
  vswitch_bridge_set_ports(br, ports, n);
  free(ports);
}

/* The Open_vSwitch root row, inserted when the database has none (a fresh `ovsdb-tool create`).
 * '*inserted' tells whether it is new in this transaction (new rows cannot be verified). */
static const struct vswitch_open_vswitch* ensure_root(struct ovsplane_txn* txn, bool* inserted) {
  const struct vswitch_open_vswitch* ovs = vswitch_open_vswitch_first(txn_idl(txn));
  *inserted = false;
  if (!ovs) {
    ovs = vswitch_open_vswitch_insert(txn->txn);
    *inserted = true;
  }
  return ovs;
}

static void set_external_ids_if_changed(const struct smap* current, struct ovsplane_kvs wanted,
                                        void (*setter)(const void*, const struct smap*),
                                        const void* row) {
  struct smap next = SMAP_INITIALIZER(&next);
  ovsplane_kvs_to_smap(wanted, &next);
  if (!smap_equal(current, &next)) {
    setter(row, &next);
  }
  smap_destroy(&next);
}

static void set_bridge_external_ids(const void* row, const struct smap* smap) {
  vswitch_bridge_set_external_ids(row, smap);
}

static void set_port_external_ids(const void* row, const struct smap* smap) {
  vswitch_port_set_external_ids(row, smap);
}

static void set_interface_external_ids(const void* row, const struct smap* smap) {
  vswitch_interface_set_external_ids(row, smap);
}

static void set_interface_options(const void* row, const struct smap* smap) {
  vswitch_interface_set_options(row, smap);
}

/* The bridge's own internal interface (named like the bridge), NULL when it has none. */
static const struct vswitch_interface* local_interface(const struct vswitch_bridge* br) {
  for (size_t i = 0; i < br->n_ports; i++) {
    const struct vswitch_port* port = br->ports[i];
    for (size_t j = 0; j < port->n_interfaces; j++) {
      if (!strcmp(port->interfaces[j]->name, br->name)) {
        return port->interfaces[j];
      }
    }
  }
  return NULL;
}

/* The bridge's own port (named like the bridge), NULL when it has none. */
static const struct vswitch_port* local_port(const struct vswitch_bridge* br) {
  for (size_t i = 0; i < br->n_ports; i++) {
    if (!strcmp(br->ports[i]->name, br->name)) {
      return br->ports[i];
    }
  }
  return NULL;
}

static void shape_local_port(const struct vswitch_bridge* br, const char* hwaddr,
                             long long local_mtu, bool local_protected) {
  const struct vswitch_port* port = local_port(br);
  if (port && port->protected_ != local_protected) {
    vswitch_port_set_protected_(port, local_protected);
  }
  if (hwaddr[0]) {
    const char* current = smap_get(&br->other_config, "hwaddr");
    if (!current || strcmp(current, hwaddr)) {
      vswitch_bridge_update_other_config_setkey(br, "hwaddr", hwaddr);
    }
  }
  if (local_mtu > 0) {
    const struct vswitch_interface* iface = local_interface(br);
    if (iface && !(iface->n_mtu_request == 1 && iface->mtu_request[0] == local_mtu)) {
      int64_t mtu = local_mtu;
      vswitch_interface_set_mtu_request(iface, &mtu, 1);
    }
  }
}

int ovsplane_vs_ensure_bridge(struct ovsplane_txn* txn, const char* name, const char* datapath_type,
                              struct ovsplane_kvs external_ids, const char* hwaddr,
                              long long local_mtu, bool local_protected, char* err,
                              size_t err_len) {
  const struct ovsdb_idl* idl = txn_idl(txn);
  const struct vswitch_bridge* br = find_bridge(idl, name);
  if (!br) {
    struct vswitch_interface* iface = vswitch_interface_insert(txn->txn);
    vswitch_interface_set_name(iface, name);
    vswitch_interface_set_type(iface, "internal");
    struct vswitch_port* port = vswitch_port_insert(txn->txn);
    vswitch_port_set_name(port, name);
    vswitch_port_set_interfaces(port, &iface, 1);
    if (local_protected) {
      vswitch_port_set_protected_(port, true);
    }
    struct vswitch_bridge* new_br = vswitch_bridge_insert(txn->txn);
    vswitch_bridge_set_name(new_br, name);
    vswitch_bridge_set_ports(new_br, &port, 1);

    bool root_is_new;
    const struct vswitch_open_vswitch* ovs = ensure_root(txn, &root_is_new);
    if (root_is_new) {
      vswitch_open_vswitch_set_bridges(ovs, &new_br, 1);
    } else {
      vswitch_open_vswitch_update_bridges_addvalue(ovs, new_br);
    }
    if (local_mtu > 0) {
      int64_t mtu = local_mtu;
      vswitch_interface_set_mtu_request(iface, &mtu, 1);
    }
    if (hwaddr[0]) {
      vswitch_bridge_update_other_config_setkey(new_br, "hwaddr", hwaddr);
    }
    br = new_br;
  } else {
    shape_local_port(br, hwaddr, local_mtu, local_protected);
  }
  if (!br->datapath_type || strcmp(br->datapath_type, datapath_type)) {
    vswitch_bridge_set_datapath_type(br, datapath_type);
  }
  set_external_ids_if_changed(&br->external_ids, external_ids, set_bridge_external_ids, br);
  (void)err;
  (void)err_len;
  return 0;
}

int ovsplane_vs_delete_bridge(struct ovsplane_txn* txn, const char* name) {
  const struct ovsdb_idl* idl = txn_idl(txn);
  const struct vswitch_bridge* br = find_bridge(idl, name);
  const struct vswitch_open_vswitch* ovs = vswitch_open_vswitch_first(idl);
  if (!br || !ovs) {
    return 0;
  }
  if (is_stored(&ovs->header_)) {
    vswitch_open_vswitch_update_bridges_delvalue(ovs, br);
  }
  return 0;
}

int ovsplane_vs_ensure_port(struct ovsplane_txn* txn, const char* bridge, const char* name,
                            const char* type, struct ovsplane_kvs options,
                            struct ovsplane_kvs external_ids, bool protected_, char* err,
                            size_t err_len) {
  const struct ovsdb_idl* idl = txn_idl(txn);
  const struct vswitch_bridge* br = find_bridge(idl, bridge);
  if (!br) {
    snprintf(err, err_len, "bridge %s does not exist (port %s)", bridge, name);
    return ENOENT;
  }
  const struct vswitch_port* port = find_port(idl, name);
  const struct vswitch_interface* iface = NULL;
  if (port) {
    const struct vswitch_bridge* holder = bridge_of_port(idl, port);
    if (holder && holder != br) {
      snprintf(err, err_len, "port %s already exists on bridge %s, not %s", name, holder->name,
               bridge);
      return EEXIST;
    }
    if (!holder) {
      port = NULL; /* an orphan about to be collected: make a fresh one */
    } else if (port->n_interfaces > 0) {
      iface = port->interfaces[0];
    }
  }
  if (!iface) {
    struct vswitch_interface* new_iface = vswitch_interface_insert(txn->txn);
    vswitch_interface_set_name(new_iface, name);
    iface = new_iface;
  }
  if (!port) {
    struct vswitch_port* new_port = vswitch_port_insert(txn->txn);
    vswitch_port_set_name(new_port, name);
    vswitch_port_set_interfaces(new_port, (struct vswitch_interface**)&iface, 1);
    add_port(br, new_port);
    port = new_port;
  } else if (port->n_interfaces == 0) {
    vswitch_port_set_interfaces(port, (struct vswitch_interface**)&iface, 1);
  }

  if (!iface->type || strcmp(iface->type, type)) {
    vswitch_interface_set_type(iface, type);
  }
  set_external_ids_if_changed(&iface->options, options, set_interface_options, iface);
  set_external_ids_if_changed(&iface->external_ids, external_ids, set_interface_external_ids,
                              iface);
  set_external_ids_if_changed(&port->external_ids, external_ids, set_port_external_ids, port);
  if (port->protected_ != protected_) {
    vswitch_port_set_protected_(port, protected_);
  }
  return 0;
}

int ovsplane_vs_delete_port(struct ovsplane_txn* txn, const char* name) {
  const struct ovsdb_idl* idl = txn_idl(txn);
  const struct vswitch_port* port = find_port(idl, name);
  const struct vswitch_bridge* br = port ? bridge_of_port(idl, port) : NULL;
  if (!br) {
    return 0;
  }
  remove_port(br, port);
  return 0;
}

void ovsplane_vs_increment_next_cfg(struct ovsplane_txn* txn) {
  bool inserted;
  const struct vswitch_open_vswitch* ovs = ensure_root(txn, &inserted);
  if (!inserted) {
    ovsdb_idl_txn_increment(txn->txn, &ovs->header_, &vswitch_open_vswitch_col_next_cfg, false);
  }
}

long long ovsplane_vs_txn_next_cfg(const struct ovsplane_txn* txn) {
  return txn->status == OVSPLANE_TXN_SUCCESS ? ovsdb_idl_txn_get_increment_new_value(txn->txn) : -1;
}

bool ovsplane_vs_cfg(const struct ovsplane_idl* idl, long long* next_cfg, long long* cur_cfg) {
  const struct vswitch_open_vswitch* ovs = vswitch_open_vswitch_first(idl->idl);
  if (!ovs) {
    return false;
  }
  *next_cfg = ovs->next_cfg;
  *cur_cfg = ovs->cur_cfg;
  return true;
}

void ovsplane_vs_list(const struct ovsplane_idl* idl,
                      void (*bridge_cb)(void*, const struct ovsplane_vs_bridge*),
                      void (*port_cb)(void*, const struct ovsplane_vs_port*), void* ctx) {
  const struct vswitch_bridge* br;
  VSWITCH_BRIDGE_FOR_EACH(br, idl->idl) {
    if (bridge_cb) {
      struct ovsplane_vs_bridge info = {
          .name = br->name,
          .datapath_type = br->datapath_type ? br->datapath_type : "",
          .external_ids = ovsplane_smap_to_kvs(&br->external_ids),
      };
      bridge_cb(ctx, &info);
      free((void*)info.external_ids.items);
    }
    if (!port_cb) {
      continue;
    }
    for (size_t i = 0; i < br->n_ports; i++) {
      const struct vswitch_port* port = br->ports[i];
      const struct vswitch_interface* iface = port->n_interfaces ? port->interfaces[0] : NULL;
      struct smap empty = SMAP_INITIALIZER(&empty);
      struct ovsplane_vs_port info = {
          .name = port->name,
          .bridge = br->name,
          .type = iface && iface->type ? iface->type : "",
          .options = ovsplane_smap_to_kvs(iface ? &iface->options : &empty),
          .external_ids = ovsplane_smap_to_kvs(&port->external_ids),
          .protected_ = port->protected_,
          .ofport = iface && iface->n_ofport ? iface->ofport[0] : -1,
      };
      port_cb(ctx, &info);
      free((void*)info.options.items);
      free((void*)info.external_ids.items);
    }
  }
}
