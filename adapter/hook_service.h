#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "adapter/hooks.h"
#include "adapter/http/message.h"
#include "adapter/metrics.h"
#include "netdrv/driver.h"

namespace ovsplane::adapter {

/**
 * The Powerstrip v1 adapter: maps hooks to driver calls and answers.
 *  - pre-hook POST /containers/create with a CIDR in Env -> attach; the rewritten body goes back
 *    as ModifiedClientRequest. Errors users can act on -> non-2xx with {"message":"ovsplane: ..."}
 *  - post-hook create -> commit (Docker answered 201: the new container's ovsplane.endpoint
 *    label names the attach) or rollback (anything else)
 *  - pre-hook POST /containers/{id}/start -> ensureWired (the network-only container runs and is
 *    wired before the app joins its namespace); post-hook start -> ensureWired again (cheap)
 *  - post-hook DELETE /containers/{id} -> detach (Docker's answer is returned either way)
 *  - everything else passes through unchanged.
 * Also GET /v1/ping ("pong") and GET /metrics. Thread-safe; handle() never throws.
 * Pre- and post-hooks of one create are paired by the proxy's request id (kRequestIdField), or,
 * behind another Powerstrip proxy, by method, target and original body; a commit is exact either
 * way (the label). An attach whose post-hook never comes is judged by the reconciler.
 */
class HookService {
 public:
  HookService(std::shared_ptr<netdrv::NetworkDriver> driver, std::string adapterPath = "/adapter");

  HttpAnswer handle(const HttpRequestView& request);

  Metrics& metrics() { return metrics_; }

 private:
  HttpAnswer handleHook(std::string_view body);
  HttpAnswer preHook(const Hook& hook);
  HttpAnswer postHook(const Hook& hook);
  static std::string pairingKey(const Hook& hook);
  void remember(const std::string& key, const std::string& endpointId);
  std::optional<std::string> recall(const std::string& key);

  struct Pending {
    std::string endpointId;
    std::chrono::steady_clock::time_point since;
  };

  std::shared_ptr<netdrv::NetworkDriver> driver_;
  std::string adapterPath_;
  Metrics metrics_;
  std::mutex mutex_;
  std::map<std::string, std::deque<Pending>> pending_;  // guarded by mutex_
};

/** The HTTP status for a driver error (400, 404, 409, 503, 500). */
unsigned statusFor(netdrv::ErrorCode code);

}  // namespace ovsplane::adapter
