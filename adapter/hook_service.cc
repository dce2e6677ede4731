#include "adapter/hook_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

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
      return HttpAnswer{200, "text/plain; version=0.0.4", metrics_.render(byNetwork)};
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

std::string HookService::pairingKey(const ClientRequest& request) {
  return request.method + " " + request.request + "\n" + request.body.value_or("");
}

HttpAnswer HookService::preHook(const Hook& hook) {
  const RoutedRequest routed = routeRequest(hook.client.method, hook.client.request);
  const char* route = routeName(routed.route);
  if (routed.route != Route::CreateContainer || !hook.client.body) {
    metrics_.countHook("pre-hook", route, "ok");
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  auto body = nlohmann::json::parse(*hook.client.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    // Not ours to judge: Docker will answer the client about its own body.
    metrics_.countHook("pre-hook", route, "ok");
    return jsonAnswer(encodeModifiedClientRequest(hook.client));
  }
  const auto start = std::chrono::steady_clock::now();
  auto attached = driver_->attach(body, routed.name);
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
  metrics_.observeAttach(std::chrono::steady_clock::now() - start);
  {
    std::scoped_lock lock(mutex_);
    pending_[pairingKey(hook.client)].push_back(
        Pending{(*attached)->endpointId, std::chrono::steady_clock::now()});
  }
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
      std::optional<std::string> endpointId;
      {
        std::scoped_lock lock(mutex_);
        auto it = pending_.find(pairingKey(hook.client));
        if (it != pending_.end() && !it->second.empty()) {
          endpointId = it->second.front().endpointId;
          it->second.pop_front();
          if (it->second.empty()) pending_.erase(it);
        }
      }
      if (!endpointId) break;  // a create without a CIDR
      std::string appId;
      if (response.code == 201) {
        auto answer = nlohmann::json::parse(response.body, nullptr, false);
        if (answer.is_object() && answer.contains("Id") && answer["Id"].is_string()) {
          appId = answer["Id"].get<std::string>();
        }
      }
      auto result =
          appId.empty() ? driver_->rollback(*endpointId) : driver_->commit(*endpointId, appId);
      if (!result) {
        metrics_.countHook("post-hook", route, "error");
        metrics_.countError(appId.empty() ? "rollback" : "commit");
        spdlog::warn("{} of endpoint {} failed: {}", appId.empty() ? "rollback" : "commit",
                     *endpointId, result.error().message);
        return passThrough();  // Docker's answer stands; the reconciler finishes the cleanup
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

size_t HookService::expirePending(std::chrono::steady_clock::duration age) {
  std::vector<std::string> expired;
  {
    std::scoped_lock lock(mutex_);
    const auto cutoff = std::chrono::steady_clock::now() - age;
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto& queue = it->second;
      while (!queue.empty() && queue.front().since <= cutoff) {
        expired.push_back(queue.front().endpointId);
        queue.pop_front();
      }
      it = queue.empty() ? pending_.erase(it) : std::next(it);
    }
  }
  for (const auto& endpointId : expired) {
    if (auto undone = driver_->rollback(endpointId); !undone) {
      metrics_.countError("rollback");
      spdlog::warn("expiring attach {} failed: {}", endpointId, undone.error().message);
    }
  }
  return expired.size();
}

}  // namespace ovsplane::adapter
