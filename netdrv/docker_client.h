#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/host_port.h"
#include "netdrv/docker_replies.h"
#include "netdrv/error.h"
#include "netdrv/seams.h"

namespace ovsplane::netdrv {

/**
 * The image of ovsplane's network-only containers: a single static `/pause` binary (built by
 * the project, see pause_image.h) whose default command is `/pause`. It is never pulled: it is
 * imported from memory by DockerClient::ensurePauseImage(). The tag changes whenever the
 * binary's behaviour does.
 */
inline constexpr std::string_view kPauseImage = "ovsplane/pause:1";

/** The highest Engine API version ovsplane speaks; negotiation never goes above it. */
inline constexpr std::string_view kMaxDockerApiVersion = "1.41";

/** Where dockerd listens, DOCKER_HOST style. */
struct DockerAddress {
  bool tcp = false;
  std::string path;   ///< unix socket path
  std::string host;   ///< tcp
  uint16_t port = 0;  ///< tcp
  /** "unix:///path" or "tcp://HOST:PORT" */
  std::string display() const {
    return tcp ? "tcp://" + formatHostPort(host, port) : "unix://" + path;
  }
};

/** "/path", "unix:///path" or "tcp://HOST[:PORT]" (port 2375 by default; an IPv6 host in
 *  brackets). Anything that is not tcp:// is taken as a unix socket path. A tcp address with an
 *  unusable port comes back with port 0 (check it). Pure. */
DockerAddress parseDockerAddress(std::string_view text);

/** How to reach dockerd. */
struct DockerClientOptions {
  /** The Engine API: a unix socket path, "unix:///path", or "tcp://HOST:PORT" (plain HTTP). */
  std::string socketPath = "/var/run/docker.sock";
  /** "1.41" (a leading 'v' is accepted) pins the API version; empty negotiates it once with
   *  GET /_ping: min(the daemon's API-Version header, kMaxDockerApiVersion). */
  std::string apiVersion;
  /** The deadline of every request (connect + send + whole reply). stopContainer() adds its
   *  grace period; followEvents() has no overall deadline. */
  std::chrono::milliseconds timeout{10000};
};

/**
 * A synchronous client of dockerd's Engine API over its unix socket (or plain TCP).
 *
 * Thread-safe: every call opens its own connection (closed when it returns); the only shared
 * state is the negotiated API version, computed once under a lock. Every call except
 * followEvents() completes within DockerClientOptions::timeout.
 *
 * Errors: a message naming the request and the socket, plus Docker's own `message` when it sent
 * one. Codes: NotFound (404), Conflict (409), InvalidRequest (other 4xx), Unavailable (cannot
 * connect, timeout, 5xx, a reply that cannot be understood).
 *
 * No call ever pulls from a registry: images come only from importImage().
 */
class DockerClient {
 public:
  explicit DockerClient(DockerClientOptions options = {});
  ~DockerClient();
  DockerClient(const DockerClient&) = delete;
  DockerClient& operator=(const DockerClient&) = delete;

  /** The socket path in use (without "unix://"), or HOST:PORT. */
  const std::string& socketPath() const;

  /** GET /_ping: whether the daemon answers. Returns the daemon's own API-Version header
   *  (not capped; empty if it sent none). Never cached. */
  Result<std::string> ping();

  /** The API version the requests use ("1.41"): the pinned one, or the negotiated one
   *  (negotiated on first use, then cached; a failed negotiation is retried next time). */
  Result<std::string> apiVersion();

  /** POST /containers/create with `body` as given (Image, Cmd, Labels, HostConfig...); `name`
   *  may be empty (Docker picks one). Returns the new id. A missing image is NotFound carrying
   *  Docker's message: it is never pulled. A taken name is Conflict. */
  Result<std::string> createContainer(const nlohmann::json& body, const std::string& name);

  /** POST /containers/{id}/start. Starting a running container is success. */
  Result<void> startContainer(const std::string& idOrName);

  /** POST /containers/{id}/rename?name=: a taken name is Conflict, a missing container
   *  NotFound. */
  Result<void> renameContainer(const std::string& idOrName, const std::string& name);

  /** POST /containers/{id}/stop?t=seconds: SIGTERM, SIGKILL after `seconds`. Stopping a stopped
   *  container is success; a missing one is NotFound. The request's deadline is the client
   *  timeout plus `seconds`. */
  Result<void> stopContainer(const std::string& idOrName, int seconds);

  /** DELETE /containers/{id}[?force=1]. Idempotent: a missing container is success. Removing
   *  a running container without `force` is Conflict. */
  Result<void> removeContainer(const std::string& idOrName, bool force);

  /** GET /containers/{id}/json. A missing container is NotFound. */
  Result<ContainerInfo> inspectContainer(const std::string& idOrName);

  /** GET /containers/json: containers carrying every `key=value` label of `labelFilters`
   *  (an empty value matches any value of the key), running ones only unless `all`. List
   *  entries fill id, name, running, labels, networkMode and raw only. */
  Result<std::vector<ContainerInfo>> listContainers(
      const std::map<std::string, std::string>& labelFilters, bool all);

  /** GET /networks filtered by driver: every network of driver `driver` (exactly), with its
   *  name, `--internal` and driver options. */
  Result<std::vector<RuntimeNetwork>> listNetworks(const std::string& driver);

  /** GET /images/{ref}/json: whether the image is present locally. */
  Result<bool> imageExists(const std::string& ref);

  /**
   * POST /images/create?fromSrc=- : imports `tarBytes` (a tar of the root file system) as
   * `repo:tag`, replacing an existing tag. `changes` are Dockerfile instructions applied to the
   * image config (e.g. `CMD ["/pause"]`). Reports an error entry of Docker's progress stream
   * as Unavailable with Docker's message. Never contacts a registry.
   */
  Result<void> importImage(std::string_view tarBytes, const std::string& repo,
                           const std::string& tag, const std::vector<std::string>& changes = {});

  /** Imports kPauseImage from pauseImageTar() unless present. Idempotent; concurrent calls on
   *  one client import at most once. */
  Result<void> ensurePauseImage();

  /**
   * GET /events?filters={"type":["container"],"label":[...]}: calls `onEvent` with each event
   * (Docker's JSON object: Type, Action, Actor.ID, Actor.Attributes...) as it arrives, on the
   * calling thread. Returns success when `onEvent` returns false, when `stop` is requested
   * (within a few milliseconds: the connection is closed from a stop callback) or when the
   * daemon ends the stream; an error when the connection fails or Docker refuses the request.
   * Connecting, sending and receiving the reply's header have the client timeout; the stream
   * itself has none. Exceptions thrown by `onEvent` propagate. `onConnected` (optional) runs
   * once Docker has accepted the request, before the first event: what happened before it is
   * not reported (look at the containers then).
   */
  Result<void> followEvents(const std::map<std::string, std::string>& labelFilters,
                            std::function<bool(const nlohmann::json& event)> onEvent,
                            std::stop_token stop, std::function<void()> onConnected = {});

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ovsplane::netdrv
