/* The C boundary of ovsdb/openflow.h: OpenFlow through libopenvswitch's vconn. Plain C types.
 * Each call opens its own connection (blocking, at most 'timeout_ms' to connect) and closes it:
 * callable from any thread. Returns 0, or an OVSPLANE_OF_* code with a message in 'err'. */
#ifndef OVSPLANE_OVSDB_SHIM_OPENFLOW_H
#define OVSPLANE_OVSDB_SHIM_OPENFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  OVSPLANE_OF_UNREACHABLE = 1, /* no such socket, connection lost, timeout */
  OVSPLANE_OF_REFUSED = 2,     /* version negotiation failed, or an OpenFlow error reply */
};

/* The gateway flows of one network's bridge, all carrying 'cookie', in table 0:
 *   GATEWAY_OUT      in_port=LOCAL, dl_src=mac          -> NORMAL (the local gateway speaks)
 *   FOREIGN_GATEWAY  dl_src=mac (any other port)        -> drop (another host's gateway,
 *                    through a tunnel, or a container spoofing it: never learnt)
 *   GATEWAY_ARP      arp, arp_tpa=ip                    -> LOCAL (never flooded into tunnels)
 *   TO_GATEWAY       dl_dst=mac                         -> LOCAL (never flooded, even when the
 *                    switch forgot where the MAC is while a container still knows it)
 *   0                (everything)                       -> NORMAL (the bridge's default) */
enum {
  OVSPLANE_OF_PRIO_GATEWAY_OUT = 300,
  OVSPLANE_OF_PRIO_FOREIGN_GATEWAY = 290,
  OVSPLANE_OF_PRIO_GATEWAY_ARP = 280,
  OVSPLANE_OF_PRIO_TO_GATEWAY = 270,
  OVSPLANE_OF_GATEWAY_FLOW_COUNT = 5,
};

struct ovsplane_gateway_flows {
  uint64_t cookie;
  uint8_t mac[6];
  uint32_t ip_be; /* network byte order */
};

/* Makes bridge 'target' ("unix:<rundir>/<bridge>.mgmt") hold exactly the gateway flows: when the
 * flows carrying the cookie are not exactly those four, they are replaced (*installed = true). */
int ovsplane_of_ensure_gateway_flows(const char* target, const struct ovsplane_gateway_flows* gw,
                                     int timeout_ms, bool* installed, char* err, size_t err_len);
/* Deletes every flow carrying 'cookie'. */
int ovsplane_of_delete_flows(const char* target, uint64_t cookie, int timeout_ms, char* err,
                             size_t err_len);
/* How many flows carry 'cookie'. */
int ovsplane_of_count_flows(const char* target, uint64_t cookie, int timeout_ms, size_t* count,
                            char* err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
