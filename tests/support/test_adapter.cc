// A Powerstrip test adapter for the e2e scenarios (not shipped): `ovsplane_test_adapter NAME
// LISTEN` serves hooks on LISTEN (unix:/path or tcp:IP:PORT). On a container create whose Env
// holds NAME=refuse it refuses (403, Docker's error shape); NAME=slow makes it answer after 3 s;
// otherwise the pre-hook appends STAMPED_BY=NAME to Env and the post-hook of a successful create
// appends the warning "NAME saw <id>" (the docker CLI prints it). Everything else passes.
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "adapter/http/server.h"

using ovsplane::adapter::HttpAnswer;
using ovsplane::adapter::HttpRequestView;
using Json = nlohmann::json;

namespace {

HttpAnswer reply(const Json& body) { return HttpAnswer{200, "application/json", body.dump()}; }

HttpAnswer handle(const std::string& name, const HttpRequestView& request) {
  const Json hook = Json::parse(request.body, nullptr, false);
  if (!hook.is_object()) return HttpAnswer{400, "application/json", R"({"message":"not a hook"})"};
  Json client = hook["ClientRequest"];
  const bool create = client["Method"] == "POST" && client["Request"].get<std::string>().find(
                                                        "/containers/create") != std::string::npos;
  Json body = client["Body"].is_string()
                  ? Json::parse(client["Body"].get<std::string>(), nullptr, false)
                  : Json();
  const Json env = body.is_object() && body.contains("Env") && body["Env"].is_array()
                       ? body["Env"]
                       : Json::array();
  auto has = [&](const std::string& entry) {
    for (const auto& e : env) {
      if (e == entry) return true;
    }
    return false;
  };
  if (hook["Type"] == "pre-hook") {
    if (create && has(name + "=refuse")) {
      return HttpAnswer{403, "application/json",
                        Json{{"message", name + " refuses this container"}}.dump()};
    }
    if (create && has(name + "=slow")) std::this_thread::sleep_for(std::chrono::seconds(3));
    if (create && body.is_object()) {
      body["Env"] = env;
      body["Env"].push_back("STAMPED_BY=" + name);
      client["Body"] = body.dump();
    }
    return reply({{"PowerstripProtocolVersion", 1}, {"ModifiedClientRequest", client}});
  }
  Json response = hook["ServerResponse"];
  if (create && response["Code"] == 201) {
    Json answer = Json::parse(response["Body"].get<std::string>(), nullptr, false);
    if (answer.is_object()) {
      if (!answer["Warnings"].is_array()) answer["Warnings"] = Json::array();
      answer["Warnings"].push_back(name + " saw " + answer.value("Id", "?").substr(0, 12));
      response["Body"] = answer.dump();
    }
  }
  return reply({{"PowerstripProtocolVersion", 1}, {"ModifiedServerResponse", response}});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: ovsplane_test_adapter NAME unix:/path|tcp:IP:PORT\n";
    return 2;
  }
  const std::string name = argv[1];
  auto listen = ovsplane::adapter::parseListenAddress(argv[2]);
  if (!listen) {
    std::cerr << listen.error() << "\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ovsplane::adapter::HttpServer server(
      ovsplane::adapter::HttpServerOptions{.listen = {*listen}},
      [name](const HttpRequestView& request) { return handle(name, request); });
  if (auto started = server.start(); !started) {
    std::cerr << started.error() << "\n";
    return 1;
  }
  std::cout << "test adapter " << name << " on " << server.addresses().at(0).toString()
            << std::endl;
  int signal = 0;
  sigwait(&signals, &signal);
  server.stop();
  return 0;
}
