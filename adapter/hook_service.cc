#include "adapter/hook_service.h"

#include "adapter/create_body.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/json_limits.h"

namespace ovsplane::adapter {
namespace {

const char* routeName(Route route) {
  switch (route) {
    case Route::CreateContainer:
      return "create";
    case Route::StartContainer:
      return "start";
    case Route::DeleteContainer:
      return "delete";
    case Route::Other:
      break;
  }
  return "other";
}

HttpAnswer jsonAnswer(std::string body) {
  return HttpAnswer{200, "application/json", std::move(body)};
}

}  // namespace

unsigned statusFor(netdrv::ErrorCode code) {
  switch (code) {
    case netdrv::ErrorCode::InvalidRequest:
      return 400;
    case netdrv::ErrorCode::NotFound:
      return 404;
    case netdrv::ErrorCode::Conflict:
      return 409;
    case netdrv::ErrorCode::Unavailable:
      return 503;
    case netdrv::ErrorCode::Internal:
      break;
  }
  return 500;
}

HookService::HookService(std::shared_ptr<netdrv::NetworkDriver> driver, std::string adapterPath)
    : driver_(std::move(driver)), adapterPath_(std::move(adapterPath)) {}

HttpAnswer HookService::handle(const HttpRequestView& request) {
  try {
    const std::string_view path = request.target.substr(0, request.target.find('?'));
    if (request.method == "GET" && path == "/v1/ping") {
      return HttpAnswer{200, "text/plain", "pong"};
    }
    if (request.method == "GET" && path == "/metrics") {
      std::map<std::string, size_t> byNetwork;
      for (const auto& endpoint : driver_->endpoints()) {
        ++byNetwork[endpoint.subnet.toString()];
      }
      return HttpAnswer{200, "text/plain; version=0.0.4",
                        metrics_.render(byNetwork, driver_->poolReady())};
    }
    if (path == adapterPath_) {
      if (request.method != "POST") {
        return errorAnswer(405, fmt::format("{} takes POST, not {}", adapterPath_, request.method));
      }
      return handleHook(request.body);
    }
    return errorAnswer(404, fmt::format("no such endpoint: {} {}", request.method, path));
  } catch (const std::exception& e) {
    // Impossible by design; answered rather than crashing the server.
    metrics_.countError("internal");
    spdlog::error("hook handling failed: {}", e.what());
    return errorAnswer(500, fmt::format("internal error: {}", e.what()));
  }
}

HttpAnswer HookService::handleHook(std::string_view body) {
  auto hook = decodeHook(body);
  if (!hook) {
    metrics_.countHook("invalid", "none", "error");
    return errorAnswer(400, "invalid hook: " + hook.error());
  }
  return hook->type == HookType::Pre ? preHook(*hook) : postHook(*hook);
}

std::string HookService::pairingKey(const Hook& hook) {
  if (!hook.requestId.empty()) return "id " + hook.requestId;
  return hook.client.method + " " + hook.client.request + "\n" + hook.client.body.value_or("");
}

void HookService::remember(const std::string& key, const std::string& endpointId) {
  std::scoped_lock lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  // Pairings whose post-hook never came (the reconciler judged their attach) are dropped.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& queue = it->second;
    while (!queue.empty() && now - queue.front().since > std::chrono::minutes(10)) {
      queue.pop_front();
    }
    it = queue.empty() ? pending_.erase(it) : std::next(it);
  }
  pending_[key].push_back(Pending{endpointId, now});
}

std::optional<std::string> HookService::recall(const std::string& key) {
  std::scoped_lock lock(mutex_);
  auto it = pending_.find(key);
  if (it == pending_.end() || it->second.empty()) return std::nullopt;
  std::string endpointId = it->second.front().endpointId;
  it->second.pop_front();
  if (it->second.empty()) pending_.erase(it);
  return endpointId;
}

HttpAnswer HookService::preHook(const Hook& hook) {
  const RoutedRequest routed = routeRequest(hook.client.method, hook.client.request);
  const char* route = routeName(routed.route);
  if (routed.route == Route::StartContainer) {
    // The network-only container must run (and be wired) before Docker starts the app in its
    // namespace: after a dockerd restart or a reboot it is stopped.
    if (auto wired = driver_->ensureWired(routed.container); !wired) {
      metrics_.countHook("pre-hook", route, "error");
      metrics_.countError("ensure_wired");
      return errorAnswer(
          statusFor(wired.error().code),
          fmt::format("cannot start {}: {}", routed.container, wired.error().message));
    }
    metrics_.countHook("pre-hook", route, "ok");
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  if (routed.route != Route::CreateContainer || !hook.client.body) {
    metrics_.countHook("pre-hook", route, "ok");
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  if (!jsonDepthWithin(*hook.client.body)) {
    // Refused before anything is allocated: nothing deeper is copied or serialised.
    metrics_.countHook("pre-hook", route, "error");
    return errorAnswer(400,
                       fmt::format("the create body nests deeper than {} levels", kMaxJsonDepth));
  }
  auto body = nlohmann::json::parse(*hook.client.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    // Not ours to judge: Docker will answer the client about its own body.
    metrics_.countHook("pre-hook", route, "ok");
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  const auto start = std::chrono::steady_clock::now();
  auto attached = attachCreate(*driver_, body, routed.name);
  if (!attached) {
    metrics_.countHook("pre-hook", route, "error");
    metrics_.countError("attach");
    spdlog::warn("attach of {} refused: {}", routed.name.empty() ? "a container" : routed.name,
                 attached.error().message);
    return errorAnswer(statusFor(attached.error().code), attached.error().message);
  }
  metrics_.countHook("pre-hook", route, "ok");
  if (!*attached) {
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  const netdrv::AttachTimings& spent = (*attached)->timings;
  metrics_.observeAttach(std::chrono::steady_clock::now() - start,
                         {{"state_db", spent.stateDb},
                          {"docker", spent.docker},
                          {"netlink", spent.netlink},
                          {"ovsdb", spent.ovsdb}},
                         spent.pooled);
  remember(pairingKey(hook), (*attached)->endpointId);
  ClientRequest modified = hook.client;
  modified.body = (*attached)->body.dump();
  return jsonAnswer(encodeModifiedClientRequest(modified));
}

HttpAnswer HookService::postHook(const Hook& hook) {
  const RoutedRequest routed = routeRequest(hook.client.method, hook.client.request);
  const char* route = routeName(routed.route);
  const ServerResponse& response = *hook.server;
  const auto passThrough = [&] { return jsonAnswer(encodeModifiedServerResponse(response)); };

  switch (routed.route) {
    case Route::CreateContainer: {
      const std::optional<std::string> endpointId = recall(pairingKey(hook));
      std::string appId;
      if (response.code == 201) {
        auto answer = parseJsonBounded(response.body);
        if (answer.is_object() && answer.contains("Id") && answer["Id"].is_string()) {
          appId = answer["Id"].get<std::string>();
        }
      }
      // A create with an id is committed through its label even when the pairing missed (an
      // adapter before ovsplane's rewrote the body); a refusal undoes the paired attach only.
      const std::string& original = hook.client.body.value_or("");
      const bool mentionsCidr = original.find("OVSPLANE_CIDR") != std::string::npos ||
                                original.find("SOCKETPLANE_CIDR") != std::string::npos;
      if (!endpointId && (appId.empty() || !mentionsCidr)) break;  // a create without a CIDR
      // Paired by the proxy's request id, the endpoint is known exactly: no need to ask Docker
      // for the new container's label (one call less on every attach).
      const bool exact = endpointId && !hook.requestId.empty();
      auto result = appId.empty() ? driver_->rollback(*endpointId)
                    : exact       ? driver_->commit(*endpointId, appId)
                                  : driver_->commitCreated(appId, endpointId.value_or(""));
      if (!result) {
        metrics_.countHook("post-hook", route, "error");
        metrics_.countError(appId.empty() ? "rollback" : "commit");
        spdlog::warn("{} of endpoint {} failed: {}", appId.empty() ? "rollback" : "commit",
                     *endpointId, result.error().message);
        return passThrough();  // Docker's answer stands; the reconciler judges the endpoint
      }
      break;
    }
    case Route::StartContainer: {
      if (response.code < 200 || response.code >= 300) break;  // not started: nothing to wire
      auto wired = driver_->ensureWired(routed.container);
      if (!wired) {
        metrics_.countHook("post-hook", route, "error");
        metrics_.countError("ensure_wired");
        return errorAnswer(statusFor(wired.error().code),
                           fmt::format("container {} started but its network is not ready: {}",
                                       routed.container, wired.error().message));
      }
      break;
    }
    case Route::DeleteContainer: {
      if (response.code < 200 || response.code >= 300) break;  // not removed
      if (auto detached = driver_->detach(routed.container); !detached) {
        metrics_.countHook("post-hook", route, "error");
        metrics_.countError("detach");
        spdlog::warn("cleanup after removing {} failed: {}", routed.container,
                     detached.error().message);
        return passThrough();  // the container is gone either way
      }
      break;
    }
    case Route::Other:
      break;
  }
  metrics_.countHook("post-hook", route, "ok");
  return passThrough();
}

}  // namespace ovsplane::adapter
