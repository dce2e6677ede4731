/* OpenFlow on a bridge's management socket through libopenvswitch (vconn + flow-mod encoding):
 * the flows that keep a network's gateway local to each host. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vconn.h"
#include "packets.h"
#include "shim_openflow.h"
#include "socket-util.h"
#include "util.h"

/* OpenFlow 1.3 and later: cookie-masked deletes and counters kept across a re-add. Bridges
 * enable 1.0 to 1.5 unless Bridge.protocols says otherwise. */
static const uint32_t kAllowedVersions =
    (1u << OFP13_VERSION) | (1u << OFP14_VERSION) | (1u << OFP15_VERSION);

static int fail(char* err, size_t err_len, int code, const char* what, const char* target,
                int error) {
  snprintf(err, err_len, "%s %s: %s", what, target, ovs_strerror(error));
  return code;
}

static int open_bridge(const char* target, int timeout_ms, struct vconn** vconn, char* err,
                       size_t err_len) {
  int error = vconn_open_block(target, kAllowedVersions, DSCP_DEFAULT, timeout_ms, vconn);
  if (error) {
    return fail(err, err_len, error == EPROTO ? OVSPLANE_OF_REFUSED : OVSPLANE_OF_UNREACHABLE,
                "OpenFlow 1.3 connection to", target, error);
  }
  return 0;
}

static enum ofputil_protocol protocol_of(struct vconn* vconn) {
  return ofputil_protocol_from_ofp_version((enum ofp_version)vconn_get_version(vconn));
}

/* How many flows carry 'cookie' (exactly). */
static int count_flows(struct vconn* vconn, uint64_t cookie, size_t* count) {
  struct ofputil_flow_stats_request request;
  memset(&request, 0, sizeof request);
  request.aggregate = false;
  match_init_catchall(&request.match);
  request.cookie = htonll(cookie);
  request.cookie_mask = OVS_BE64_MAX;
  request.out_port = OFPP_ANY;
  request.out_group = OFPG_ANY;
  request.table_id = 0xff;
  struct ofputil_flow_stats* stats = NULL;
  size_t n = 0;
  int error = vconn_dump_flows(vconn, &request, protocol_of(vconn), &stats, &n);
  for (size_t i = 0; i < n; i++) {
    free(CONST_CAST(struct ofpact*, stats[i].ofpacts));
  }
  free(stats);
  *count = n;
  return error;
}

static struct ofpbuf* encode_flow_mod(struct vconn* vconn, uint16_t command, const struct match* m,
                                      int priority, uint64_t cookie, const struct ofpbuf* actions) {
  struct ofputil_flow_mod fm;
  memset(&fm, 0, sizeof fm);
  minimatch_init(&fm.match, m);
  fm.priority = priority;
  fm.command = command;
  fm.buffer_id = UINT32_MAX;
  fm.out_port = OFPP_ANY;
  fm.out_group = OFPG_ANY;
  if (command == OFPFC_DELETE) {
    fm.table_id = OFPTT_ALL;
    fm.cookie = htonll(cookie);
    fm.cookie_mask = OVS_BE64_MAX;
    fm.new_cookie = OVS_BE64_MAX;
  } else {
    fm.table_id = 0;
    fm.new_cookie = htonll(cookie);
  }
  if (actions) {
    fm.ofpacts = actions->data;
    fm.ofpacts_len = actions->size;
  }
  struct ofpbuf* msg = ofputil_encode_flow_mod(&fm, protocol_of(vconn));
  minimatch_destroy(&fm.match);
  return msg;
}

/* Sends 'requests' (consumed) followed by a barrier; an OpenFlow error reply is a failure. */
static int transact(struct vconn* vconn, struct ovs_list* requests, const char* target, char* err,
                    size_t err_len) {
  struct ofpbuf* reply = NULL;
  int error = vconn_transact_multiple_noreply(vconn, requests, &reply);
  if (error) {
    return fail(err, err_len, OVSPLANE_OF_UNREACHABLE, "talking OpenFlow to", target, error);
  }
  if (reply) {
    char* text = ofp_to_string(reply->data, reply->size, NULL, NULL, 1);
    snprintf(err, err_len, "%s refused a flow: %s", target, text);
    free(text);
    ofpbuf_delete(reply);
    return OVSPLANE_OF_REFUSED;
  }
  return 0;
}

static void push(struct ovs_list* requests, struct ofpbuf* msg) {
  ovs_list_push_back(requests, &msg->list_node);
}

/* Queues the deletion of every flow carrying 'cookie'. */
static void push_delete(struct vconn* vconn, uint64_t cookie, struct ovs_list* requests) {
  struct match all;
  match_init_catchall(&all);
  push(requests, encode_flow_mod(vconn, OFPFC_DELETE, &all, 0, cookie, NULL));
}

/* The gateway flows, in the order they are added (see shim_openflow.h). */
static void gateway_flow_mods(struct vconn* vconn, const struct ovsplane_gateway_flows* gw,
                              struct ovs_list* requests) {
  struct eth_addr mac;
  memcpy(mac.ea, gw->mac, sizeof mac.ea);
  struct ofpbuf normal, local, drop;
  ofpbuf_init(&normal, 64);
  ofpbuf_init(&local, 64);
  ofpbuf_init(&drop, 0);
  ofpact_put_OUTPUT(&normal)->port = OFPP_NORMAL;
  ofpact_put_OUTPUT(&local)->port = OFPP_LOCAL;

  struct match m;
  match_init_catchall(&m);
  match_set_in_port(&m, OFPP_LOCAL);
  match_set_dl_src(&m, mac);
  push(requests,
       encode_flow_mod(vconn, OFPFC_ADD, &m, OVSPLANE_OF_PRIO_GATEWAY_OUT, gw->cookie, &normal));

  match_init_catchall(&m);
  match_set_dl_src(&m, mac);
  push(requests,
       encode_flow_mod(vconn, OFPFC_ADD, &m, OVSPLANE_OF_PRIO_FOREIGN_GATEWAY, gw->cookie, &drop));

  match_init_catchall(&m);
  match_set_dl_type(&m, htons(ETH_TYPE_ARP));
  match_set_nw_dst(&m, gw->ip_be);
  push(requests,
       encode_flow_mod(vconn, OFPFC_ADD, &m, OVSPLANE_OF_PRIO_GATEWAY_ARP, gw->cookie, &local));

  match_init_catchall(&m);
  match_set_dl_dst(&m, mac);
  push(requests,
       encode_flow_mod(vconn, OFPFC_ADD, &m, OVSPLANE_OF_PRIO_TO_GATEWAY, gw->cookie, &local));

  match_init_catchall(&m);
  push(requests, encode_flow_mod(vconn, OFPFC_ADD, &m, 0, gw->cookie, &normal));

  ofpbuf_uninit(&normal);
  ofpbuf_uninit(&local);
  ofpbuf_uninit(&drop);
}

int ovsplane_of_ensure_gateway_flows(const char* target, const struct ovsplane_gateway_flows* gw,
                                     int timeout_ms, bool* installed, char* err, size_t err_len) {
  *installed = false;
  struct vconn* vconn = NULL;
  int rc = open_bridge(target, timeout_ms, &vconn, err, err_len);
  if (rc) {
    return rc;
  }
  size_t count = 0;
  int error = count_flows(vconn, gw->cookie, &count);
  if (error) {
    vconn_close(vconn);
    return fail(err, err_len, OVSPLANE_OF_UNREACHABLE, "dumping flows of", target, error);
  }
  if (count == OVSPLANE_OF_GATEWAY_FLOW_COUNT) {
    vconn_close(vconn);
    return 0;
  }
  /* Missing (ovs-vswitchd restarted, someone deleted flows) or more than ours: replace the set. */
  struct ovs_list requests;
  ovs_list_init(&requests);
  push_delete(vconn, gw->cookie, &requests);
  gateway_flow_mods(vconn, gw, &requests);
  rc = transact(vconn, &requests, target, err, err_len);
  vconn_close(vconn);
  *installed = rc == 0;
  return rc;
}

int ovsplane_of_delete_flows(const char* target, uint64_t cookie, int timeout_ms, char* err,
                             size_t err_len) {
  struct vconn* vconn = NULL;
  int rc = open_bridge(target, timeout_ms, &vconn, err, err_len);
  if (rc) {
    return rc;
  }
  struct ovs_list requests;
  ovs_list_init(&requests);
  push_delete(vconn, cookie, &requests);
  rc = transact(vconn, &requests, target, err, err_len);
  vconn_close(vconn);
  return rc;
}

int ovsplane_of_count_flows(const char* target, uint64_t cookie, int timeout_ms, size_t* count,
                            char* err, size_t err_len) {
  struct vconn* vconn = NULL;
  int rc = open_bridge(target, timeout_ms, &vconn, err, err_len);
  if (rc) {
    return rc;
  }
  int error = count_flows(vconn, cookie, count);
  vconn_close(vconn);
  return error ? fail(err, err_len, OVSPLANE_OF_UNREACHABLE, "dumping flows of", target, error) : 0;
}
