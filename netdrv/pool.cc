#include "netdrv/pool.h"

#include <fstream>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/fault_point.h"
#include "netdrv/driver.h"
#include "netdrv/naming.h"

namespace ovsplane::netdrv {

NetworkContainerPool::NetworkContainerPool(
    PoolConfig config, std::shared_ptr<ContainerRuntime> runtime,
    std::function<Result<bool>(const std::string& endpointId)> holdsAddress)
    : config_(std::move(config)),
      runtime_(std::move(runtime)),
      holdsAddress_(std::move(holdsAddress)) {}

NetworkContainerPool::~NetworkContainerPool() { stop(); }

std::map<std::string, std::string> NetworkContainerPool::labelsFor(const std::string& endpointId) {
  return {{labels::kRole, "network"}, {labels::kEndpoint, endpointId}, {labels::kPool, "1"}};
}

bool NetworkContainerPool::isPooled(const RuntimeContainer& container) {
  return labelOf(container, labels::kPool) == "1";
}

void NetworkContainerPool::start() {
  if (config_.size == 0 || thread_.joinable()) return;
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  // Its own thread: a rename never waits behind a refill's container create and start.
  renamer_ = std::jthread([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      renameClaimed();
      std::unique_lock lock(mutex_);
      renameWake_.wait(lock, stop, [&] { return !renames_.empty(); });
    }
  });
}

void NetworkContainerPool::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
  thread_ = std::jthread();
  renamer_.request_stop();
  renameWake_.notify_all();
  renamer_.join();
  renamer_ = std::jthread();
}

void NetworkContainerPool::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    const bool fine = refillOnce(stop);
    std::unique_lock lock(mutex_);
    if (!fine) {
      // dockerd or the state database away: the full pause (only stop ends it early), else this
      // would spin on the very state that failed.
      wake_.wait_for(lock, stop, config_.retry, [] { return false; });
      continue;
    }
    // Woken by a claim (one to replace), a drop (one to remove) or stop; else a health check.
    wake_.wait_for(lock, stop, config_.healthCheck,
                   [&] { return !dropped_.empty() || (adopted_ && ready_.size() < config_.size); });
  }
}

std::optional<PooledContainer> NetworkContainerPool::claim() {
  for (;;) {
    PooledContainer candidate;
    {
      std::scoped_lock lock(mutex_);
      if (ready_.empty()) return std::nullopt;
      candidate = std::move(ready_.front());
      ready_.pop_front();
    }
    wake_.notify_all();
    if (candidate.pid > 0 && config_.stillRuns &&
        config_.stillRuns(candidate.pid, candidate.containerId)) {
      return candidate;  // no Docker call on the attach's path
    }
    auto now = runtime_->inspect(candidate.containerId);
    if (now && now->running && now->pid > 0) {
      candidate.pid = now->pid;
      return candidate;
    }
    spdlog::info("pooled network-only container {} is {}: dropped",
                 candidate.containerId.substr(0, 12), now ? "stopped" : now.error().message);
    std::scoped_lock lock(mutex_);
    dropped_.push_back(candidate.containerId);
  }
}

void NetworkContainerPool::giveBack(PooledContainer container) {
  {
    std::scoped_lock lock(mutex_);
    ready_.push_front(std::move(container));
  }
  wake_.notify_all();
}

size_t NetworkContainerPool::ready() const {
  std::scoped_lock lock(mutex_);
  return ready_.size();
}

Result<PooledContainer> NetworkContainerPool::makeOne() {
  auto image = runtime_->ensurePauseImage();
  if (!image) return std::unexpected(image.error());
  const std::string endpointId = randomEndpointId();
  nlohmann::json body = {
      {"Image", *image},
      {"Labels", labelsFor(endpointId)},
      {"HostConfig", {{"NetworkMode", "none"}, {"RestartPolicy", {{"Name", "no"}}}}},
  };
  auto id = runtime_->create(body, config_.namePrefix + endpointId);
  if (!id) return std::unexpected(id.error());
  faultPoint("pool.created");
  if (auto started = runtime_->start(*id); !started) {
    (void)runtime_->remove(*id);
    return std::unexpected(started.error());
  }
  // Its pid now, off the attach's path (a claim checks it is still the container's).
  auto seen = runtime_->inspect(*id);
  const pid_t pid = seen && seen->running ? seen->pid : 0;
  return PooledContainer{.endpointId = endpointId, .containerId = *id, .pid = pid};
}

bool cgroupNamesContainer(std::string_view cgroupFile, std::string_view containerId) {
  if (containerId.size() != 64) return false;
  for (size_t at = cgroupFile.find(containerId); at != std::string_view::npos;
       at = cgroupFile.find(containerId, at + 1)) {
    // A whole path part: /docker/<id>, /system.slice/docker-<id>.scope (a cgroup namespace's
    // view of it may start with /..).
    const char before = at == 0 ? '\0' : cgroupFile[at - 1];
    const size_t end = at + containerId.size();
    const char after = end == cgroupFile.size() ? '\n' : cgroupFile[end];
    if ((before == '/' || before == '-') && (after == '\n' || after == '/' || after == '.')) {
      return true;
    }
  }
  return false;
}

bool processInContainer(pid_t pid, const std::string& containerId) {
  if (pid <= 0) return false;
  std::ifstream cgroup(fmt::format("/proc/{}/cgroup", pid));
  const std::string text((std::istreambuf_iterator<char>(cgroup)),
                         std::istreambuf_iterator<char>());
  return cgroupNamesContainer(text, containerId);
}

bool NetworkContainerPool::adopt() {
  auto labelled = runtime_->list({{labels::kEndpoint, ""}});
  if (!labelled) {
    spdlog::debug("pool: cannot list Docker's containers: {}", labelled.error().message);
    return false;
  }
  std::set<std::string> withApp;  // endpoints an app container names
  for (const auto& container : *labelled) {
    if (labelOf(container, labels::kRole).empty()) {
      withApp.insert(labelOf(container, labels::kEndpoint));
    }
  }
  // Judged in full first, then taken in one step: a failure half-way adopts nothing (the next
  // try starts over, never adding a container twice).
  std::vector<PooledContainer> keep;
  std::vector<std::string> toRemove;
  for (const auto& container : *labelled) {
    if (!isPooled(container)) continue;
    const std::string endpointId = labelOf(container, labels::kEndpoint);
    if (withApp.contains(endpointId)) continue;  // claimed: an endpoint like any other
    // A claim holds an address and may be wired: never reused; the reconciler collects it.
    auto held = holdsAddress_(endpointId);
    if (!held) {
      spdlog::debug("pool: the addresses of {}: {}", endpointId, held.error().message);
      return false;
    }
    if (*held) continue;
    // Renamed after an app: it was claimed (its teardown could not remove it): not reused.
    const bool asMade = container.name == config_.namePrefix + endpointId;
    if (container.running && asMade && keep.size() < config_.size) {
      keep.push_back(PooledContainer{
          .endpointId = endpointId, .containerId = container.id, .pid = container.pid});
    } else {
      toRemove.push_back(container.id);
    }
  }
  // Docker's list has no pids: learnt here, off the attach's path (a claim then asks nothing).
  for (PooledContainer& container : keep) {
    if (container.pid > 0) continue;
    if (auto seen = runtime_->inspect(container.containerId); seen && seen->running) {
      container.pid = seen->pid;
    }
  }
  const size_t kept = keep.size();
  const size_t removed = toRemove.size();
  std::scoped_lock lock(mutex_);
  if (adopted_) return true;
  for (auto& container : keep) ready_.push_back(std::move(container));
  for (auto& id : toRemove) dropped_.push_back(std::move(id));
  adopted_ = true;
  if (kept + removed > 0) {
    spdlog::info(
        "pool: adopted {} network-only container(s) an earlier run left ready, {} to "
        "remove",
        kept, removed);
  }
  return true;
}

bool NetworkContainerPool::checkHealth() {
  auto pooled = runtime_->list({{labels::kPool, "1"}});
  if (!pooled) return false;
  std::set<std::string> running;
  for (const auto& container : *pooled) {
    if (container.running) running.insert(container.id);
  }
  std::scoped_lock lock(mutex_);
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (running.contains(it->containerId)) {
      ++it;
      continue;
    }
    dropped_.push_back(it->containerId);  // a dockerd restart, a `docker stop` or `rm`
    it = ready_.erase(it);
  }
  return true;
}

void NetworkContainerPool::renameLater(std::string containerId, std::string name) {
  {
    std::scoped_lock lock(mutex_);
    renames_.emplace_back(std::move(containerId), std::move(name));
  }
  renameWake_.notify_all();
}

void NetworkContainerPool::renameClaimed() {
  std::vector<std::pair<std::string, std::string>> renames;
  {
    std::scoped_lock lock(mutex_);
    renames.swap(renames_);
  }
  for (const auto& [id, name] : renames) {
    if (auto renamed = runtime_->rename(id, name); !renamed) {
      spdlog::info("pool: naming claimed container {} {}: {}", id.substr(0, 12), name,
                   renamed.error().message);
    }
  }
}

bool NetworkContainerPool::refillOnce(std::stop_token stop) {
  renameClaimed();
  bool adopted = false;
  {
    std::scoped_lock lock(mutex_);
    adopted = adopted_;
  }
  if (!adopted && !adopt()) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - lastHealthCheck_ >= config_.healthCheck) {
    if (!checkHealth()) return false;
    lastHealthCheck_ = now;
  }
  std::vector<std::string> dropped;
  {
    std::scoped_lock lock(mutex_);
    dropped.swap(dropped_);
  }
  bool fine = true;
  for (const std::string& id : dropped) {
    if (auto removed = runtime_->remove(id); !removed) {
      spdlog::debug("pool: removing {}: {}", id.substr(0, 12), removed.error().message);
      std::scoped_lock lock(mutex_);
      dropped_.push_back(id);
      fine = false;
    }
  }
  while (!stop.stop_requested()) {
    {
      std::scoped_lock lock(mutex_);
      if (ready_.size() >= config_.size) break;
    }
    auto made = makeOne();
    if (!made) {
      if (!failing_) {
        spdlog::warn(
            "pool: cannot start a network-only container: {} (tried again every {} ms; "
            "attaches create their own meanwhile)",
            made.error().message, config_.retry.count());
      }
      failing_ = true;
      return false;
    }
    if (failing_) spdlog::info("pool: network-only containers start again");
    failing_ = false;
    std::scoped_lock lock(mutex_);
    ready_.push_back(std::move(*made));
  }
  return fine;
}

}  // namespace ovsplane::netdrv
