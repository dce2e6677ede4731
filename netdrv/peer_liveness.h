#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ovsdb/state_store.h"

namespace ovsplane::netdrv {

/**
 * Which registered hosts are alive, judged on this host's own steady clock: a host is alive while
 * its `last_seen` keeps changing; one whose value has not changed for `expiry` has departed
 * without saying so. Hosts' wall clocks are only compared with this host's once, for a row seen
 * for the first time (a row left behind long ago is not taken for a live host). Time during which
 * this host could not read the state database at all counts against nobody: after such a gap
 * the hosts alive at the last read keep the age they had then (so tunnels are not torn down when
 * the database comes back after an outage longer than `expiry`), and hosts already gone stay
 * gone.
 *
 * Not thread-safe (one caller: the housekeeping loop). Never fails.
 */
class PeerLiveness {
 public:
  using Clock = std::chrono::steady_clock;

  /** `blindAfter`: a gap between two reads longer than this is an outage. */
  explicit PeerLiveness(std::chrono::milliseconds expiry,
                        std::chrono::milliseconds blindAfter = std::chrono::seconds(3));

  /** One successful read of the Host table: returns the names of the hosts alive now. */
  std::vector<std::string> observe(const std::vector<ovsdb::HostRecord>& hosts, int64_t wallNowMs,
                                   Clock::time_point now);

 private:
  struct Seen {
    int64_t lastSeenMs = 0;
    Clock::time_point changedAt;
  };
  std::chrono::milliseconds expiry_;
  std::chrono::milliseconds blindAfter_;
  std::optional<Clock::time_point> lastRead_;
  std::map<std::string, Seen> seen_;
};

}  // namespace ovsplane::netdrv
