#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <variant>

#include "ovsdb/error.h"
#include "ovsdb/schema_probe.h"

struct ovsplane_idl;
struct ovsplane_txn;

namespace ovsplane::ovsdb {

/** The TLS identity for ssl: remotes (PEM files, as ovsdb-server's --private-key,
 *  --certificate and --ca-cert): both sides present a certificate signed by the CA. */
struct SslFiles {
  std::string privateKey;
  std::string certificate;
  std::string caCert;
  bool empty() const { return privateKey.empty() && certificate.empty() && caCert.empty(); }
};

/** How to reach a database. */
struct ClientOptions {
  /** "unix:/path", "tcp:127.0.0.1:6640", "ssl:10.0.0.1:6641", or a comma-separated list (a
   *  Raft cluster). */
  std::string remote;
  /** For ssl: remotes. libopenvswitch holds one TLS identity per process: every client that
   *  names files sets it (the same files for all; the caller checks them first, see
   *  adapter/state_db_access.h). */
  SslFiles ssl = {};
  /** With several remotes: talk to the Raft leader only (writes go there anyway). */
  bool leaderOnly = true;
  /** Default limit for one operation, connection wait included. */
  std::chrono::milliseconds timeout{5000};
  /** Once the database has been unusable (unreachable, no leader, not served) for this long,
   *  jobs fail at once instead of each waiting out its own limit: callers learn of an outage
   *  fast. Zero: the same as `timeout`. */
  std::chrono::milliseconds unusableLimit{0};
};

/** Installs the sink for libopenvswitch's log messages (default: spdlog's default logger,
 *  warnings and up). Call before the first client; messages never go to stderr directly. */
void routeOvsLogging(int minSyslogLevel = 4);

/** What a transaction commit ended with, as seen by a job's continuation. */
struct TxnOutcome {
  enum class Status { Success, Unchanged, TryAgain, Failed } status;
  std::string error;  ///< server/IDL error text (Failed only)
  bool constraintViolation = false;
  long long nextCfg = -1;  ///< Open_vSwitch next_cfg set by the txn, if incremented
};

class JobContext;

/** What a job asks the IDL thread to do next. */
struct JobDone {};           ///< the job has delivered its result
struct JobRetryOnChange {};  ///< run again when the replica changes (or fail at the deadline)
struct JobRetryNow {};       ///< run again at once (bounded by the job itself)
struct JobCommit {
  ovsplane_txn* txn;  ///< created with JobContext::beginTxn(); the loop owns it from here
  std::function<std::variant<JobDone, JobRetryOnChange, JobRetryNow, JobCommit>(JobContext&,
                                                                                const TxnOutcome&)>
      then;
};
using JobStep = std::variant<JobDone, JobRetryOnChange, JobRetryNow, JobCommit>;

/** What a job sees on the IDL thread. Valid only during the call. */
class JobContext {
 public:
  explicit JobContext(ovsplane_idl* idl) : idl_(idl) {}
  ovsplane_idl* idl() const { return idl_; }
  ovsplane_txn* beginTxn();

 private:
  ovsplane_idl* idl_;
};

/**
 * One connection to one OVSDB database, replicated by libopenvswitch's IDL on a dedicated thread
 * that this object owns. The IDL reconnects by itself; jobs run only on a connected, synced
 * replica, one transaction at a time, in submission order. Thread-safe: any thread may submit.
 * Destruction stops the thread; jobs still pending fail with ErrorCode::ShuttingDown.
 * The first client initialises libopenvswitch's signal handling: a program installs its own
 * SIGTERM/SIGINT/SIGHUP handlers before creating one (handlers still SIG_DFL get OVS's), and
 * SIGPIPE, still SIG_DFL, is ignored (a TLS server hanging up mid-write).
 */
class IdlClient {
 public:
  IdlClient(Database database, ClientOptions options);
  ~IdlClient();
  IdlClient(const IdlClient&) = delete;
  IdlClient& operator=(const IdlClient&) = delete;

  const ClientOptions& options() const { return options_; }
  Database database() const { return database_; }

  /** A one-shot result slot a job fills; the first value set wins. */
  template <typename T>
  class Completion {
   public:
    void set(Result<T> value) {
      if (!done_.exchange(true)) promise_.set_value(std::move(value));
    }
    std::future<Result<T>> future() { return promise_.get_future(); }

   private:
    std::promise<Result<T>> promise_;
    std::atomic<bool> done_{false};
  };

  /**
   * Runs `fn(context, completion)` on the IDL thread once the replica is connected and synced.
   * The job fails with ErrorCode::Timeout when it has not completed within `timeout`
   * (default: options().timeout), or at once while the database has been unusable for longer
   * than options().unusableLimit; a transaction then in flight may still commit
   * (at-least-once).
   */
  template <typename T, typename Fn>
  std::future<Result<T>> submit(Fn fn, std::chrono::milliseconds timeout = {}) {
    auto completion = std::make_shared<Completion<T>>();
    auto future = completion->future();
    enqueue([fn = std::move(fn),
             completion](JobContext& context) mutable { return fn(context, *completion); },
            [completion](Error error) { completion->set(std::unexpected(std::move(error))); },
            timeout.count() > 0 ? timeout : options_.timeout);
    return future;
  }

 private:
  struct Impl;
  void enqueue(std::function<JobStep(JobContext&)> run, std::function<void(Error)> fail,
               std::chrono::milliseconds timeout);

  Database database_;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ovsplane::ovsdb
