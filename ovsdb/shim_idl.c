/* Poll loop, logging, IDL connections and transactions: the generic part of the C shim. */
#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fatal-signal.h"
#include "latch.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsplane-idl.h"
#include "shim_private.h"
#include "stream-ssl.h"
#include "timeval.h"
#include "util.h"
#include "vswitch-used-idl.h"

void ovsplane_shim_init(void) {
  fatal_signal_init();
  /* A server that drops a TLS session (a refused certificate) while libopenvswitch writes to it
   * would raise SIGPIPE: ignored unless the program chose otherwise, as OVS's own programs do. */
  struct sigaction current;
  if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

bool ovsplane_ssl_configure(const char* private_key, const char* certificate, const char* ca_cert) {
  stream_ssl_set_key_and_cert(private_key, certificate);
  stream_ssl_set_ca_cert_file(ca_cert, false);
  return stream_ssl_is_configured();
}

/* ---- logging ------------------------------------------------------------------------------ */

static ovsplane_log_fn log_sink;
static int log_fd = -1;

void ovsplane_log_setup(ovsplane_log_fn fn, int min_level, const char* runtime_dir) {
  log_sink = fn;
  if (log_fd >= 0) {
    return;
  }
  vlog_set_levels(NULL, VLF_CONSOLE, VLL_OFF);
  vlog_set_levels(NULL, VLF_FILE, VLL_OFF);
  vlog_set_levels(NULL, VLF_SYSLOG, VLL_OFF);
  if (!fn) {
    return;
  }

  const char* dir = runtime_dir ? runtime_dir : getenv("TMPDIR");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s/ovsplane-vlog-%d-%lld.sock",
           dir && *dir ? dir : "/tmp", (int)getpid(), time_wall_msec());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    if (fd >= 0) {
      close(fd);
    }
    return; /* logging stays off rather than on stderr */
  }
  log_fd = fd;
  char method[sizeof addr.sun_path + 8];
  snprintf(method, sizeof method, "unix:%s", addr.sun_path);
  vlog_set_syslog_method(method); /* connects to our socket now */
  unlink(addr.sun_path);
  /* "<priority>module|message": the severity comes from the syslog priority. */
  vlog_set_pattern(VLF_SYSLOG, "%c|%m");
  enum vlog_level level = min_level <= 3   ? VLL_ERR
                          : min_level == 4 ? VLL_WARN
                          : min_level <= 6 ? VLL_INFO
                                           : VLL_DBG;
  vlog_set_levels(NULL, VLF_SYSLOG, level);
  /* timeval warns of "unreasonably long poll intervals" between two poll_block() calls of a
   * thread: the reconciler's OpenFlow calls are a second apart by design. */
  struct vlog_module* timeval = vlog_module_from_name("timeval");
  if (timeval) {
    vlog_set_levels(timeval, VLF_SYSLOG, VLL_ERR);
  }
}

void ovsplane_log_pump(void) {
  if (log_fd < 0) {
    return;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = recv(log_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
      return;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) {
      buf[--n] = '\0';
    }
    int priority = 6;
    char* text = buf;
    if (text[0] == '<') {
      priority = atoi(text + 1);
      char* close_angle = strchr(text, '>');
      text = close_angle ? close_angle + 1 : text;
    }
    char* bar = strchr(text, '|');
    const char* module = "ovs";
    if (bar) {
      *bar = '\0';
      module = text;
      text = bar + 1;
    }
    ovsplane_log_fn sink = log_sink;
    if (sink) {
      sink(priority & 7, module, text);
    }
  }
}

void ovsplane_log_wait(void) {
  if (log_fd >= 0) {
    poll_fd_wait(log_fd, POLLIN);
  }
}

/* ---- poll loop ---------------------------------------------------------------------------- */

struct ovsplane_waker {
  struct latch latch;
};

struct ovsplane_waker* ovsplane_waker_create(void) {
  struct ovsplane_waker* waker = xmalloc(sizeof *waker);
  latch_init(&waker->latch);
  return waker;
}

void ovsplane_waker_destroy(struct ovsplane_waker* waker) {
  if (waker) {
    latch_destroy(&waker->latch);
    free(waker);
  }
}

void ovsplane_waker_signal(struct ovsplane_waker* waker) { latch_set(&waker->latch); }

bool ovsplane_waker_poll(struct ovsplane_waker* waker) { return latch_poll(&waker->latch); }

void ovsplane_waker_wait(struct ovsplane_waker* waker) { latch_wait(&waker->latch); }

long long ovsplane_time_msec(void) { return time_msec(); }

void ovsplane_poll_timer_wait_until(long long msec) { poll_timer_wait_until(msec); }

void ovsplane_poll_immediate_wake(void) { poll_immediate_wake(); }

void ovsplane_poll_block(void) { poll_block(); }

/* ---- IDL connections ---------------------------------------------------------------------- */

static const struct ovsdb_idl_class* idl_class(enum ovsplane_db db) {
  return db == OVSPLANE_DB_STATE ? &ovsplane_idl_class : &vswitch_idl_class;
}

const char* ovsplane_db_name(enum ovsplane_db db) { return idl_class(db)->database; }

struct ovsplane_idl* ovsplane_idl_create(enum ovsplane_db db, const char* remote,
                                         bool leader_only) {
  struct ovsplane_idl* idl = xzalloc(sizeof *idl);
  idl->db = db;
  idl->remote = xstrdup(remote);
  /* Every column of the compiled-in schema: for Open_vSwitch that is the subset ovsplane reads
   * and writes (vswitch-used.ovsschema, ovsdb/CMakeLists.txt), not the status and counters
   * ovs-vswitchd keeps changing on every port. */
  idl->idl = ovsdb_idl_create(remote, idl_class(db), true, true);
  ovsdb_idl_set_leader_only(idl->idl, leader_only);
  if (db == OVSPLANE_DB_STATE) {
    ovsplane_st_create_indexes(idl);
  }
  return idl;
}

void ovsplane_idl_destroy(struct ovsplane_idl* idl) {
  if (idl) {
    ovsdb_idl_destroy(idl->idl);
    free(idl->remote);
    free(idl);
  }
}

void ovsplane_idl_run(struct ovsplane_idl* idl) { ovsdb_idl_run(idl->idl); }

void ovsplane_idl_wait(struct ovsplane_idl* idl) { ovsdb_idl_wait(idl->idl); }

unsigned int ovsplane_idl_seqno(const struct ovsplane_idl* idl) {
  return ovsdb_idl_get_seqno(idl->idl);
}

bool ovsplane_idl_has_snapshot(const struct ovsplane_idl* idl) {
  return ovsdb_idl_has_ever_connected(idl->idl);
}

bool ovsplane_idl_rotate_remotes(struct ovsplane_idl* idl) {
  char* comma = strchr(idl->remote, ',');
  if (!comma) {
    return false;
  }
  /* "a,b,c" -> "b,c,a": a different string, so ovsdb_idl_set_remote() opens a new session. */
  char* rotated = xasprintf("%s,%.*s", comma + 1, (int)(comma - idl->remote), idl->remote);
  ovsdb_idl_set_remote(idl->idl, rotated, true);
  free(idl->remote);
  idl->remote = rotated;
  return true;
}

bool ovsplane_idl_is_connected(const struct ovsplane_idl* idl) {
  return ovsdb_idl_is_connected(idl->idl);
}

int ovsplane_idl_last_error(const struct ovsplane_idl* idl) {
  return ovsdb_idl_get_last_error(idl->idl);
}

bool ovsplane_idl_serves_table(const struct ovsplane_idl* idl, const char* table) {
  const struct ovsdb_idl_class* class = idl_class(idl->db);
  for (size_t i = 0; i < class->n_tables; i++) {
    if (!strcmp(class->tables[i].name, table)) {
      return ovsdb_idl_server_has_table(idl->idl, &class->tables[i]);
    }
  }
  return false;
}

void ovsplane_idl_tables(const struct ovsplane_idl* idl, void (*cb)(void*, const char*),
                         void* ctx) {
  const struct ovsdb_idl_class* class = idl_class(idl->db);
  for (size_t i = 0; i < class->n_tables; i++) {
    if (ovsdb_idl_server_has_table(idl->idl, &class->tables[i])) {
      cb(ctx, class->tables[i].name);
    }
  }
}

/* ---- transactions ------------------------------------------------------------------------- */

struct ovsplane_txn* ovsplane_txn_create(struct ovsplane_idl* idl) {
  struct ovsplane_txn* txn = xzalloc(sizeof *txn);
  txn->owner = idl;
  txn->txn = ovsdb_idl_txn_create(idl->idl);
  txn->status = OVSPLANE_TXN_INCOMPLETE;
  return txn;
}

enum ovsplane_txn_status ovsplane_txn_commit(struct ovsplane_txn* txn) {
  switch (ovsdb_idl_txn_commit(txn->txn)) {
    case TXN_UNCOMMITTED:
    case TXN_INCOMPLETE:
      return txn->status = OVSPLANE_TXN_INCOMPLETE;
    case TXN_UNCHANGED:
      return txn->status = OVSPLANE_TXN_UNCHANGED;
    case TXN_SUCCESS:
      return txn->status = OVSPLANE_TXN_SUCCESS;
    case TXN_TRY_AGAIN:
    case TXN_NOT_LOCKED:
      return txn->status = OVSPLANE_TXN_TRY_AGAIN;
    case TXN_ABORTED:
    case TXN_ERROR:
    default:
      return txn->status = OVSPLANE_TXN_ERROR;
  }
}

void ovsplane_txn_wait(struct ovsplane_txn* txn) { ovsdb_idl_txn_wait(txn->txn); }

const char* ovsplane_txn_error(const struct ovsplane_txn* txn) {
  const char* error = ovsdb_idl_txn_get_error(txn->txn);
  return error ? error : "";
}

bool ovsplane_txn_is_constraint_violation(const struct ovsplane_txn* txn) {
  return strstr(ovsplane_txn_error(txn), "constraint violation") != NULL;
}

void ovsplane_txn_destroy(struct ovsplane_txn* txn) {
  if (txn) {
    ovsdb_idl_txn_destroy(txn->txn);
    free(txn);
  }
}

/* ---- key/value maps ----------------------------------------------------------------------- */

void ovsplane_kvs_to_smap(struct ovsplane_kvs kvs, struct smap* smap) {
  for (size_t i = 0; i < kvs.n; i++) {
    smap_replace(smap, kvs.items[i].key, kvs.items[i].value);
  }
}

struct ovsplane_kvs ovsplane_smap_to_kvs(const struct smap* smap) {
  size_t n = smap_count(smap);
  struct ovsplane_kv* items = xcalloc(n ? n : 1, sizeof *items);
  const struct smap_node* node;
  size_t i = 0;
  SMAP_FOR_EACH(node, smap) {
    items[i].key = node->key;
    items[i].value = node->value;
    i++;
  }
  return (struct ovsplane_kvs){.items = items, .n = n};
}
