#include "adapter/proxy_config.h"

#include <map>

#include <fmt/format.h>

#include "adapter/hooks.h"
#include "adapter/http/client.h"
#include "common/host_port.h"
#include "common/json_limits.h"

namespace ovsplane::adapter {

HookCall makeHttpHookCall(std::string name, AdapterTarget target,
                          std::chrono::milliseconds timeout) {
  const std::string where =
      target.kind == AdapterTarget::Kind::Tcp
          ? fmt::format("http://{}{}", formatHostPort(target.host, target.port), target.httpPath)
          : fmt::format("{}:{}", target.socketPath, target.httpPath);
  HttpCall call;
  call.target = target.httpPath;
  // Host: as a URL would say it (brackets around IPv6, the port unless 80).
  call.host = "adapter";
  if (target.kind == AdapterTarget::Kind::Tcp) {
    call.host = formatHostPort(target.host, target.port);
    if (target.port == 80) call.host.resize(call.host.rfind(':'));
  }
  call.contentType = "application/json";
  call.userAgent = "ovsplane-proxy";
  return [name = std::move(name), address = target.address(), call = std::move(call), timeout,
          where](const std::string& hookJson) -> HttpAnswer {
    HttpCall request = call;
    request.body = hookJson;
    auto reply = httpCall(address, request, timeout);
    if (!reply && reply.error().timedOut) {
      return errorAnswer(504, fmt::format("adapter {} ({}) did not answer within {} ms", name,
                                          where, timeout.count()));
    }
    if (!reply) {
      return errorAnswer(502,
                         fmt::format("adapter {} ({}): {}", name, where, reply.error().message));
    }
    HttpAnswer answer{reply->status, std::move(reply->contentType), std::move(reply->body)};
    if (!isSuccess(answer.status)) {
      // Docker's error shape, the adapter named: the docker CLI prints the message.
      const auto json = parseJsonBounded(answer.body);
      std::string message =
          json.is_object() && json.contains("message") && json["message"].is_string()
              ? json["message"].get<std::string>()
              : answer.body.substr(0, 512);
      while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
        message.pop_back();
      }
      // A refusal is an error status; anything else that is not 2xx (1xx, 3xx) is nonsense.
      const unsigned status = answer.status >= 400 && answer.status <= 599 ? answer.status : 502;
      return errorAnswer(status, fmt::format("adapter {}: {}", name, message));
    }
    return answer;
  };
}

std::vector<HookRule> rulesFromConfig(const AdaptersFile& file, const HookCall& builtin,
                                      std::chrono::milliseconds timeout) {
  std::map<std::string, HookCall> calls;
  for (const auto& adapter : file.adapters) {
    auto target = parseAdapterUrl(adapter.url);  // validated by the parser
    if (!target || target->kind == AdapterTarget::Kind::Builtin) {
      calls.emplace(adapter.name, builtin);
    } else {
      calls.emplace(adapter.name, makeHttpHookCall(adapter.name, *target, timeout));
    }
  }
  std::vector<HookRule> rules;
  for (const auto& endpoint : file.endpoints) {
    HookRule rule{endpoint.pattern, {}, {}};
    for (const auto& name : endpoint.pre) rule.pre.push_back(calls.at(name));
    for (const auto& name : endpoint.post) rule.post.push_back(calls.at(name));
    const auto space = endpoint.pattern.find(' ');
    if (endpoint.pattern.compare(space + 1, 3, "/*/") == 0) {
      HookRule unversioned = rule;
      unversioned.pattern =
          endpoint.pattern.substr(0, space + 1) + endpoint.pattern.substr(space + 3);
      rules.push_back(std::move(rule));
      rules.push_back(std::move(unversioned));
    } else {
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

}  // namespace ovsplane::adapter
