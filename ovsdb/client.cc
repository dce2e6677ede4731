#include "ovsdb/client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "shim.h"

namespace ovsplane::ovsdb {
namespace {

using Clock = std::chrono::steady_clock;

void forwardOvsLog(int level, const char* module, const char* message) {
  // Unique-index races are how allocation works (the loser retries): not worth a warning.
  if (std::strstr(message, "\"constraint violation\"") != nullptr) {
    level = 7;
  }
  const auto spdLevel = level <= 3   ? spdlog::level::err
                        : level == 4 ? spdlog::level::warn
                        : level <= 6 ? spdlog::level::info
                                     : spdlog::level::debug;
  spdlog::log(spdLevel, "ovs {}: {}", module, message);
}

std::once_flag loggingOnce;

/** libopenvswitch treats fd 0 as "no file descriptor" (poll_create_node() asserts on it): when a
 *  process runs with stdin closed, the next socket would get fd 0. Keep 0-2 occupied. */
void ensureStandardFdsOpen() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int fd = 0; fd <= 2; ++fd) {
      if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
        const int opened = open("/dev/null", O_RDWR);
        if (opened >= 0 && opened != fd) {
          dup2(opened, fd);
          close(opened);
        }
      }
    }
  });
}

void ensureLoggingRouted() {
  std::call_once(loggingOnce, [] { ovsplane_log_setup(forwardOvsLog, 4, nullptr); });
}

TxnOutcome outcomeOf(ovsplane_txn* txn, ovsplane_txn_status status) {
  TxnOutcome outcome{.status = TxnOutcome::Status::Failed, .error = {}};
  switch (status) {
    case OVSPLANE_TXN_SUCCESS:
      outcome.status = TxnOutcome::Status::Success;
      outcome.nextCfg = ovsplane_vs_txn_next_cfg(txn);
      break;
    case OVSPLANE_TXN_UNCHANGED:
      outcome.status = TxnOutcome::Status::Unchanged;
      break;
    case OVSPLANE_TXN_TRY_AGAIN:
      outcome.status = TxnOutcome::Status::TryAgain;
      break;
    default:
      outcome.error = ovsplane_txn_error(txn);
      outcome.constraintViolation = ovsplane_txn_is_constraint_violation(txn);
      break;
  }
  return outcome;
}

}  // namespace

void routeOvsLogging(int minSyslogLevel) {
  ensureStandardFdsOpen();
  std::call_once(loggingOnce, [&] { ovsplane_log_setup(forwardOvsLog, minSyslogLevel, nullptr); });
}

ovsplane_txn* JobContext::beginTxn() { return ovsplane_txn_create(idl_); }

struct IdlClient::Impl {
  struct Job {
    std::function<JobStep(JobContext&)> run;
    std::function<void(Error)> fail;
    Clock::time_point deadline;
    bool waitingForChange = false;
    unsigned int seenSeqno = 0;
    unsigned commits = 0;    ///< transactions sent for it
    unsigned tryAgains = 0;  ///< of which answered "try again" (verify failed, reconnect)
    unsigned lostRaces = 0;  ///< of which refused by a unique index (another writer won)
    /** How far it got, for the timeout's message. */
    std::string progress(size_t queued) const;
  };
  struct ActiveTxn {
    Job job;
    ovsplane_txn* txn = nullptr;
    std::function<JobStep(JobContext&, const TxnOutcome&)> then;
    /// The replica's seqno the transaction was built against: a "try again" waits for a change
    /// after this one (a failed verify's update may arrive before the reply).
    unsigned int builtSeqno = 0;
    Clock::time_point sentAt;  ///< or when the session was last renewed for it
  };

  Database database;
  std::string remote;
  bool leaderOnly;
  Clock::duration failFastAfter{};

  std::mutex mutex;
  std::deque<Job> incoming;  // guarded by mutex
  bool stopping = false;     // guarded by mutex
  ovsplane_waker* waker = nullptr;
  std::thread thread;

  // IDL thread only:
  ovsplane_idl* idl = nullptr;
  std::deque<Job> pending;
  std::optional<ActiveTxn> active;
  Clock::time_point unusableSince = Clock::now();  ///< meaningful while !usable
  bool usable = false;  ///< connected and synced, as of this loop iteration's run
  Clock::time_point lastRotation = Clock::now();
  bool severalRemotes = false;  ///< a cluster: rotation applies
  static constexpr auto kRotateEvery = std::chrono::seconds(1);
  /// A cluster member that holds a transaction this long without an answer (a follower whose
  /// leader died with the forwarded request, as seen in e2e.cluster) is left for a fresh
  /// session: libopenvswitch answers the transaction "try again" and the job builds it anew. A
  /// healthy leader answers in milliseconds; about half a job's default 15 s leaves the retry
  /// its time.
  static constexpr auto kRenewSessionAfter = std::chrono::seconds(8);

  void loop();
  void runJobs();
  void handleStep(Job job, JobStep step, unsigned int seqno);
  void finishActive();
  void requeue(Job job);  ///< a job to run again, in deadline order
  void failExpired();
  void renewStuckSession();
  std::string unreachableReason() const;
};

IdlClient::IdlClient(Database database, ClientOptions options)
    : database_(database), options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  ensureStandardFdsOpen();
  static std::once_flag shimOnce;
  std::call_once(shimOnce, [] { ovsplane_shim_init(); });
  ensureLoggingRouted();
  if (!options_.ssl.empty()) {
    // Before this client's thread exists: libopenvswitch reads it when an ssl: session opens.
    static std::mutex sslMutex;
    std::scoped_lock lock(sslMutex);
    if (!ovsplane_ssl_configure(options_.ssl.privateKey.c_str(), options_.ssl.certificate.c_str(),
                                options_.ssl.caCert.c_str())) {
      spdlog::error("ovsdb {}: the TLS identity could not be loaded (see the messages above)",
                    options_.remote);
    }
  }
  impl_->database = database_;
  impl_->remote = options_.remote;
  impl_->leaderOnly = options_.leaderOnly;
  impl_->severalRemotes = options_.remote.find(',') != std::string::npos;
  impl_->failFastAfter =
      options_.unusableLimit.count() > 0 ? options_.unusableLimit : options_.timeout;
  impl_->waker = ovsplane_waker_create();
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

IdlClient::~IdlClient() {
  {
    std::scoped_lock lock(impl_->mutex);
    impl_->stopping = true;
  }
  ovsplane_waker_signal(impl_->waker);
  impl_->thread.join();
  ovsplane_waker_destroy(impl_->waker);
}

void IdlClient::enqueue(std::function<JobStep(JobContext&)> run, std::function<void(Error)> fail,
                        std::chrono::milliseconds timeout) {
  {
    std::scoped_lock lock(impl_->mutex);
    if (!impl_->stopping) {
      Impl::Job job;
      job.run = std::move(run);
      job.fail = std::move(fail);
      job.deadline = Clock::now() + timeout;
      impl_->incoming.push_back(std::move(job));
      ovsplane_waker_signal(impl_->waker);
      return;
    }
  }
  fail(Error{ErrorCode::ShuttingDown, "ovsdb client for " + options_.remote + " is shutting down"});
}

std::string IdlClient::Impl::Job::progress(size_t queued) const {
  if (commits == 0) {
    return fmt::format("no transaction sent, {} job(s) queued", queued);
  }
  return fmt::format(
      "{} transaction(s) sent: {} answered 'try again', {} lost to another writer; "
      "{} job(s) queued",
      commits, tryAgains, lostRaces, queued);
}

std::string IdlClient::Impl::unreachableReason() const {
  const int error = ovsplane_idl_last_error(idl);
  const char* what = ovsplane_idl_is_connected(idl)
                         ? (ovsplane_idl_has_snapshot(idl) ? "connected" : "database not served")
                         : "not connected";
  return error ? fmt::format("{}: {}", what, std::strerror(error)) : what;
}

void IdlClient::Impl::loop() {
  idl = ovsplane_idl_create(
      database == Database::State ? OVSPLANE_DB_STATE : OVSPLANE_DB_OPEN_VSWITCH, remote.c_str(),
      leaderOnly);
  for (;;) {
    ovsplane_waker_poll(waker);
    bool stop = false;
    {
      std::scoped_lock lock(mutex);
      while (!incoming.empty()) {
        pending.push_back(std::move(incoming.front()));
        incoming.pop_front();
      }
      stop = stopping;
    }
    if (stop) {
      break;
    }
    ovsplane_log_pump();
    ovsplane_idl_run(idl);
    const bool usableNow = ovsplane_idl_is_connected(idl) && ovsplane_idl_has_snapshot(idl);
    if (usable && !usableNow) {
      unusableSince = Clock::now();
    }
    usable = usableNow;
    // A cluster without a usable member (a leader election, say): look for one every second
    // rather than after libopenvswitch's growing backoff.
    if (!usable && severalRemotes && Clock::now() - lastRotation >= kRotateEvery &&
        Clock::now() - unusableSince >= kRotateEvery) {
      ovsplane_idl_rotate_remotes(idl);
      lastRotation = Clock::now();
      ovsplane_idl_run(idl);
    }
    if (active) {
      renewStuckSession();
      finishActive();
    }
    if (!active) {
      runJobs();
    }
    failExpired();

    ovsplane_idl_wait(idl);
    ovsplane_waker_wait(waker);
    ovsplane_log_wait();
    if (active) {
      ovsplane_txn_wait(active->txn);
    }
    const long long now = ovsplane_time_msec();
    const auto steadyNow = Clock::now();
    for (const Job& job : pending) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(job.deadline - steadyNow);
      ovsplane_poll_timer_wait_until(now + std::max<long long>(0, left.count()));
      if (!job.waitingForChange && !active && usable) {
        ovsplane_poll_immediate_wake();
      }
    }
    if (!usable && severalRemotes) {
      const auto next = std::max(lastRotation, unusableSince) + kRotateEvery;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - steadyNow);
      ovsplane_poll_timer_wait_until(now + std::max<long long>(0, left.count()));
    }
    if (!usable && !pending.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          unusableSince + failFastAfter - steadyNow);
      ovsplane_poll_timer_wait_until(now + std::max<long long>(0, left.count()));
    }
    if (active) {
      auto until = active->job.deadline;
      if (severalRemotes) {
        until = std::min(until, active->sentAt + kRenewSessionAfter);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steadyNow);
      ovsplane_poll_timer_wait_until(now + std::max<long long>(0, left.count()));
    }
    ovsplane_poll_block();
  }

  const Error shutdown{ErrorCode::ShuttingDown, "ovsdb client for " + remote + " is shutting down"};
  if (active) {
    ovsplane_txn_destroy(active->txn);
    active->job.fail(shutdown);
    active.reset();
  }
  for (Job& job : pending) {
    job.fail(shutdown);
  }
  pending.clear();
  {
    std::scoped_lock lock(mutex);
    for (Job& job : incoming) {
      job.fail(shutdown);
    }
    incoming.clear();
  }
  ovsplane_idl_destroy(idl);
  idl = nullptr;
}

void IdlClient::Impl::runJobs() {
  if (!usable) {
    return;
  }
  const unsigned int seqno = ovsplane_idl_seqno(idl);
  JobContext context(idl);
  // Jobs run in order; the first one that starts a transaction holds the IDL until it commits.
  // A job asking to run again now runs on the next loop iteration, never in a tight loop here.
  for (size_t i = 0; i < pending.size() && !active;) {
    Job& job = pending[i];
    if (job.waitingForChange && job.seenSeqno == seqno) {
      ++i;
      continue;
    }
    JobStep step = job.run(context);
    if (std::holds_alternative<JobDone>(step)) {
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (std::holds_alternative<JobRetryOnChange>(step)) {
      job.waitingForChange = true;
      job.seenSeqno = seqno;
      ++i;
    } else if (std::holds_alternative<JobRetryNow>(step)) {
      job.waitingForChange = false;
      ++i;
    } else {
      Job started = std::move(job);
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(i));
      handleStep(std::move(started), std::move(step), seqno);
    }
  }
}

void IdlClient::Impl::handleStep(Job job, JobStep step, unsigned int seqno) {
  if (std::holds_alternative<JobDone>(step)) {
    return;
  }
  if (std::holds_alternative<JobRetryOnChange>(step)) {
    job.waitingForChange = true;
    job.seenSeqno = seqno;
    requeue(std::move(job));
    return;
  }
  if (std::holds_alternative<JobRetryNow>(step)) {
    job.waitingForChange = false;
    requeue(std::move(job));
    return;
  }
  auto& commit = std::get<JobCommit>(step);
  ++job.commits;
  active = ActiveTxn{std::move(job), commit.txn, std::move(commit.then), seqno, Clock::now()};
  finishActive();  // the first commit call sends the transaction
}

void IdlClient::Impl::requeue(Job job) {
  // By deadline, not at the back: under contention (writers on other hosts winning one verify
  // after another) a job retried at the back could wait out its deadline behind newer ones.
  auto at = std::find_if(pending.begin(), pending.end(),
                         [&](const Job& other) { return other.deadline > job.deadline; });
  pending.insert(at, std::move(job));
}

void IdlClient::Impl::finishActive() {
  const ovsplane_txn_status status = ovsplane_txn_commit(active->txn);
  if (status == OVSPLANE_TXN_INCOMPLETE) {
    return;
  }
  const TxnOutcome outcome = outcomeOf(active->txn, status);
  ovsplane_txn_destroy(active->txn);
  ActiveTxn done = std::move(*active);
  active.reset();
  if (outcome.status == TxnOutcome::Status::TryAgain) ++done.job.tryAgains;
  if (outcome.constraintViolation) ++done.job.lostRaces;
  JobContext context(idl);
  JobStep next = done.then(context, outcome);
  // A new transaction is built against the replica now; a retry waits for a change after the
  // one this transaction was built against.
  const unsigned int seqno =
      std::holds_alternative<JobCommit>(next) ? ovsplane_idl_seqno(idl) : done.builtSeqno;
  handleStep(std::move(done.job), std::move(next), seqno);
}

void IdlClient::Impl::renewStuckSession() {
  const auto now = Clock::now();
  if (!severalRemotes || now - active->sentAt < kRenewSessionAfter) {
    return;
  }
  spdlog::warn("ovsdb {}: no answer to a transaction for {} s ({}); opening a fresh session",
               remote,
               std::chrono::duration_cast<std::chrono::seconds>(now - active->sentAt).count(),
               unreachableReason());
  ovsplane_idl_rotate_remotes(idl);
  lastRotation = now;
  active->sentAt = now;
  ovsplane_idl_run(idl);
}

void IdlClient::Impl::failExpired() {
  const auto now = Clock::now();
  if (active && now >= active->job.deadline) {
    // The server may still apply it: callers treat timeouts as "unknown" (at-least-once).
    ovsplane_txn_destroy(active->txn);
    active->job.fail(
        Error{ErrorCode::Timeout,
              fmt::format("ovsdb {}: transaction not confirmed in time ({}; {})", remote,
                          unreachableReason(), active->job.progress(pending.size()))});
    active.reset();
  }
  // A long outage: waiting would only delay the same answer.
  const bool failFast = !usable && now - unusableSince >= failFastAfter;
  for (auto it = pending.begin(); it != pending.end();) {
    if (failFast) {
      const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - unusableSince);
      it->fail(Error{ErrorCode::Timeout,
                     fmt::format("ovsdb {}: {} database unusable for {} s ({})", remote,
                                 databaseName(database), seconds.count(), unreachableReason())});
      it = pending.erase(it);
    } else if (now >= it->deadline) {
      it->fail(Error{
          ErrorCode::Timeout,
          fmt::format("ovsdb {}: {} database not usable in time ({}; {})", remote,
                      databaseName(database), unreachableReason(), it->progress(pending.size()))});
      it = pending.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace ovsplane::ovsdb
