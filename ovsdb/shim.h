/* The C boundary of ovsdb/: only the shim_*.c files (and the generated IDL sources) include Open
 * vSwitch headers. Private to the ovsdb module; the rest of ovsplane uses the C++ facade headers
 * next to this file. Plain C types only.
 *
 * Threading: every function taking a struct ovsplane_idl or struct ovsplane_txn (and the poll
 * functions) must be called on the one thread that owns that IDL. ovsplane_waker_signal() is the
 * exception: any thread may call it. */
#ifndef OVSPLANE_OVSDB_SHIM_H
#define OVSPLANE_OVSDB_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- process-wide set-up ---------------------------------------------------------------- */

/* One-time set-up that libopenvswitch expects on a single thread before any poll loop runs:
 * its fatal-signal module (a self-pipe, and handlers for SIGTERM/SIGINT/SIGHUP/SIGALRM/SIGSEGV
 * where they are still SIG_DFL: install the program's own handlers before this), and SIGPIPE
 * ignored where it is still SIG_DFL (a TLS peer hanging up mid-write must not kill the process).
 * Lazily, two IDL threads would race on it. Idempotent. */
void ovsplane_shim_init(void);

/* Log sink for libopenvswitch's messages. 'level' is a syslog severity (3 err .. 7 debug). */
typedef void (*ovsplane_log_fn)(int level, const char* module, const char* message);

/* Routes libopenvswitch logging away from stderr: messages at or above 'min_level' (syslog
 * severity, e.g. 4 = warning) reach 'fn' (NULL: dropped). Call before the first IDL is created;
 * idempotent. Creates a private unix datagram socket under 'runtime_dir' (NULL = $TMPDIR or /tmp)
 * that ovsplane_log_pump() drains on the IDL thread. */
void ovsplane_log_setup(ovsplane_log_fn fn, int min_level, const char* runtime_dir);
/* Delivers queued libopenvswitch log messages to the sink; call on IDL threads each loop. */
void ovsplane_log_pump(void);
/* Arranges for the next poll_block() to wake when log messages are queued. */
void ovsplane_log_wait(void);

/* The TLS identity for ssl: remotes: this process's private key and certificate, and the CA
 * certificate peers' certificates must be signed by (mutual verification, as ovsdb-server's
 * --private-key/--certificate/--ca-cert). Process-wide in libopenvswitch: every IDL of the
 * process uses it. Call before an IDL with an ssl: remote is created; setting the same files
 * again changes nothing. Returns false when libopenvswitch was built without OpenSSL or a file
 * could not be loaded (libopenvswitch logs which). */
bool ovsplane_ssl_configure(const char* private_key, const char* certificate, const char* ca_cert);

/* ---- poll loop -------------------------------------------------------------------------- */

struct ovsplane_waker; /* a latch another thread signals to wake the IDL thread */
struct ovsplane_waker* ovsplane_waker_create(void);
void ovsplane_waker_destroy(struct ovsplane_waker*);
void ovsplane_waker_signal(struct ovsplane_waker*); /* any thread */
bool ovsplane_waker_poll(struct ovsplane_waker*);   /* clears; true if it was signalled */
void ovsplane_waker_wait(struct ovsplane_waker*);

long long ovsplane_time_msec(void);
void ovsplane_poll_timer_wait_until(long long msec);
void ovsplane_poll_immediate_wake(void);
void ovsplane_poll_block(void);

/* ---- IDL connections -------------------------------------------------------------------- */

/* The databases ovsplane knows the schema of (IDL classes compiled in). */
enum ovsplane_db {
  OVSPLANE_DB_OPEN_VSWITCH = 0, /* vswitchd/vswitch.ovsschema */
  OVSPLANE_DB_STATE = 1,        /* ovsdb/ovsplane.ovsschema */
};

/* The OVSDB database name of 'db' ("Open_vSwitch", "OVSPlane"). */
const char* ovsplane_db_name(enum ovsplane_db db);

struct ovsplane_idl;

/* Creates an IDL replicating 'db' from 'remote' ("unix:/path", "tcp:ip:port", comma-separated
 * lists for clusters: with 'leader_only' it finds the Raft leader). Reconnects by itself.
 * Replicates every table and column of the compiled-in schema: the state database whole; of
 * Open_vSwitch the columns of four tables that the shim reads and writes. */
struct ovsplane_idl* ovsplane_idl_create(enum ovsplane_db db, const char* remote, bool leader_only);
void ovsplane_idl_destroy(struct ovsplane_idl*);
void ovsplane_idl_run(struct ovsplane_idl*);
void ovsplane_idl_wait(struct ovsplane_idl*);
unsigned int ovsplane_idl_seqno(const struct ovsplane_idl*); /* changes with the replica */
bool ovsplane_idl_has_snapshot(const struct ovsplane_idl*);  /* ever synced */
bool ovsplane_idl_is_connected(const struct ovsplane_idl*);
/* With several remotes (a cluster): opens a fresh session to the same servers (the list given
 * rotated by one, so that it differs; libopenvswitch shuffles it anyway), which tries each of
 * them again at once. libopenvswitch backs off exponentially (to 8 s) once each remote has been
 * tried; during a Raft election every member refuses for a second or two, and the new leader
 * should be found as soon as it exists. A connection still being set up is dropped: call it no
 * more than once a second. Returns false (and does nothing) with a single remote. */
bool ovsplane_idl_rotate_remotes(struct ovsplane_idl*);
int ovsplane_idl_last_error(const struct ovsplane_idl*); /* errno value or 0 */
bool ovsplane_idl_serves_table(const struct ovsplane_idl*, const char* table);
void ovsplane_idl_tables(const struct ovsplane_idl*, void (*cb)(void*, const char*), void*);

/* ---- transactions ----------------------------------------------------------------------- */

enum ovsplane_txn_status {
  OVSPLANE_TXN_INCOMPLETE, /* call commit again after the next poll */
  OVSPLANE_TXN_SUCCESS,
  OVSPLANE_TXN_UNCHANGED, /* nothing to do: success without a round trip */
  OVSPLANE_TXN_TRY_AGAIN, /* verify failed or the connection dropped: rebuild and retry */
  OVSPLANE_TXN_ERROR,     /* hard error: see ovsplane_txn_error() */
};

struct ovsplane_txn;

/* At most one transaction per IDL at a time. */
struct ovsplane_txn* ovsplane_txn_create(struct ovsplane_idl*);
enum ovsplane_txn_status ovsplane_txn_commit(struct ovsplane_txn*); /* never blocks */
void ovsplane_txn_wait(struct ovsplane_txn*);
const char* ovsplane_txn_error(const struct ovsplane_txn*); /* "" when none */
bool ovsplane_txn_is_constraint_violation(const struct ovsplane_txn*);
void ovsplane_txn_destroy(struct ovsplane_txn*); /* aborts when uncommitted */

/* ---- key/value maps (external_ids, options) --------------------------------------------- */

struct ovsplane_kv {
  const char* key;
  const char* value;
};
struct ovsplane_kvs {
  const struct ovsplane_kv* items;
  size_t n;
};

/* ---- Open_vSwitch database -------------------------------------------------------------- */

/* Each returns 0 or an errno-style code with a message in 'err'. All are idempotent and only
 * stage changes in 'txn'; ovsplane_txn_commit() sends them. Ensure functions make the row match
 * the arguments (external_ids and options are replaced as a whole). */
/* 'hwaddr' (other_config:hwaddr, "" to leave alone), 'local_mtu' (mtu_request of the bridge's
 * own internal interface, 0 to leave alone) and 'local_protected' (its Port.protected) shape the
 * bridge's LOCAL port. */
int ovsplane_vs_ensure_bridge(struct ovsplane_txn*, const char* name, const char* datapath_type,
                              struct ovsplane_kvs external_ids, const char* hwaddr,
                              long long local_mtu, bool local_protected, char* err, size_t err_len);
int ovsplane_vs_delete_bridge(struct ovsplane_txn*, const char* name);
/* 'type': "" (a system interface such as a veth), "internal", "vxlan", ... */
int ovsplane_vs_ensure_port(struct ovsplane_txn*, const char* bridge, const char* name,
                            const char* type, struct ovsplane_kvs options,
                            struct ovsplane_kvs external_ids, bool protected_, char* err,
                            size_t err_len);
int ovsplane_vs_delete_port(struct ovsplane_txn*, const char* name);
/* Asks ovs-vswitchd to report when it has applied this transaction (next_cfg + 1). */
void ovsplane_vs_increment_next_cfg(struct ovsplane_txn*);
/* After OVSPLANE_TXN_SUCCESS: the next_cfg value the transaction set, or -1. */
long long ovsplane_vs_txn_next_cfg(const struct ovsplane_txn*);
/* The Open_vSwitch row's next_cfg and cur_cfg; false when there is no row. */
bool ovsplane_vs_cfg(const struct ovsplane_idl*, long long* next_cfg, long long* cur_cfg);

struct ovsplane_vs_bridge {
  const char* name;
  const char* datapath_type;
  struct ovsplane_kvs external_ids;
};
struct ovsplane_vs_port {
  const char* name;
  const char* bridge;
  const char* type; /* of its first interface */
  struct ovsplane_kvs options;
  struct ovsplane_kvs external_ids;
  bool protected_;
  long long ofport; /* -1 when not (yet) assigned */
};
/* Calls the callbacks for every bridge and every port (either may be NULL). */
void ovsplane_vs_list(const struct ovsplane_idl*,
                      void (*bridge_cb)(void*, const struct ovsplane_vs_bridge*),
                      void (*port_cb)(void*, const struct ovsplane_vs_port*), void* ctx);

/* ---- ovsplane state database ------------------------------------------------------------ */

/* Strings in these structs point into the replica: valid until the next ovsplane_idl_run(). */
struct ovsplane_st_network {
  const char* cidr; /* canonical "10.0.6.0/24" */
  const char* gateway;
  long long vni;
  long long created_at;      /* ms since the epoch */
  const char* last_reserved; /* round-robin cursor, "" when none */
  bool nat;                  /* external_ids:nat is not "false" (absent: true) */
};
struct ovsplane_st_address {
  const char* cidr;
  const char* ip;
  const char* owner;
  const char* host;
  const char* mac;
  long long created_at; /* ms since the epoch (external_ids:created_at); 0 when unknown */
};
struct ovsplane_st_host {
  const char* name;
  const char* vtep_ip;
  long long last_seen; /* ms since the epoch */
};

bool ovsplane_st_find_network(const struct ovsplane_idl*, const char* cidr,
                              struct ovsplane_st_network* out);
void ovsplane_st_networks(const struct ovsplane_idl*,
                          void (*cb)(void*, const struct ovsplane_st_network*), void* ctx);
bool ovsplane_st_vni_in_use(const struct ovsplane_idl*, long long vni);
/* Stages a new Network row; the unique indexes on cidr and vni settle races at commit. 'nat'
 * false is recorded as external_ids:nat=false (a sealed network). */
void ovsplane_st_insert_network(struct ovsplane_txn*, const char* cidr, const char* gateway,
                                long long vni, long long created_at, bool nat);
/* ENOENT when the network does not exist. */
int ovsplane_st_delete_network(struct ovsplane_txn*, const char* cidr);

bool ovsplane_st_address_by_ip(const struct ovsplane_idl*, const char* cidr, const char* ip,
                               struct ovsplane_st_address* out);
bool ovsplane_st_address_by_owner(const struct ovsplane_idl*, const char* cidr, const char* owner,
                                  struct ovsplane_st_address* out);
/* Every address of network 'cidr' (NULL: of all networks). */
void ovsplane_st_addresses(const struct ovsplane_idl*, const char* cidr,
                           void (*cb)(void*, const struct ovsplane_st_address*), void* ctx);
/* The first host address in [from, to] (host-order IPv4) with no Address row in 'cidr', skipping
 * 'skip'; 0 when there is none. */
uint32_t ovsplane_st_first_free(const struct ovsplane_idl*, const char* cidr, uint32_t from,
                                uint32_t to, uint32_t skip);
/* Stages an Address row and moves the network's round-robin cursor to it. ENOENT when the
 * network does not exist. The unique indexes (network, ip) and (network, owner) settle races. */
int ovsplane_st_insert_address(struct ovsplane_txn*, const char* cidr, const char* ip,
                               const char* owner, const char* host, const char* mac);
/* Stage deleting the Address row of that ip / owner; false when there is none. */
bool ovsplane_st_delete_address_by_ip(struct ovsplane_txn*, const char* cidr, const char* ip);
bool ovsplane_st_delete_address_by_owner(struct ovsplane_txn*, const char* cidr, const char* owner);

void ovsplane_st_hosts(const struct ovsplane_idl*,
                       void (*cb)(void*, const struct ovsplane_st_host*), void* ctx);
/* Inserts or updates the Host row 'name'. */
void ovsplane_st_upsert_host(struct ovsplane_txn*, const char* name, const char* vtep_ip,
                             long long last_seen);
bool ovsplane_st_delete_host(struct ovsplane_txn*, const char* name);

#ifdef __cplusplus
}
#endif

#endif
