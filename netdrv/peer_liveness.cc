#include "netdrv/peer_liveness.h"

#include <algorithm>

namespace ovsplane::netdrv {

PeerLiveness::PeerLiveness(std::chrono::milliseconds expiry, std::chrono::milliseconds blindAfter)
    : expiry_(expiry), blindAfter_(blindAfter) {}

std::vector<std::string> PeerLiveness::observe(const std::vector<ovsdb::HostRecord>& hosts,
                                               int64_t wallNowMs, Clock::time_point now) {
  if (lastRead_ && now - *lastRead_ > blindAfter_) {
    // The time nothing could be read counts against nobody: hosts alive at the last read keep
    // the age they had then; hosts already gone stay gone.
    const auto blind = now - *lastRead_;
    for (auto& [name, seen] : seen_) {
      if (*lastRead_ - seen.changedAt <= expiry_) seen.changedAt += blind;
    }
  }
  lastRead_ = now;

  std::map<std::string, Seen> current;
  std::vector<std::string> alive;
  for (const auto& host : hosts) {
    Seen seen;
    if (auto known = seen_.find(host.name); known != seen_.end()) {
      seen = known->second;
      if (seen.lastSeenMs != host.lastSeenMs) seen = Seen{host.lastSeenMs, now};
    } else {
      // First sight: as old as its own timestamp says (clamped: clocks differ).
      const int64_t ageMs =
          std::clamp<int64_t>(wallNowMs - host.lastSeenMs, 0, expiry_.count() + 1);
      seen = Seen{host.lastSeenMs, now - std::chrono::milliseconds(ageMs)};
    }
    if (now - seen.changedAt <= expiry_) alive.push_back(host.name);
    current.emplace(host.name, seen);
  }
  seen_ = std::move(current);  // rows deleted (hosts that left) are forgotten
  return alive;
}

}  // namespace ovsplane::netdrv
