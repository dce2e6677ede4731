#pragma once

#include <expected>
#include <string>

namespace ovsplane::ovsdb {

enum class ErrorCode {
  InvalidArgument,  ///< Rejected before any transaction (bad name, unknown network, ...).
  NotFound,         ///< A row the operation needs does not exist (e.g. a port's bridge).
  Conflict,         ///< The database refused the change (constraint, existing row elsewhere).
  Timeout,          ///< No answer in time: server unreachable, not leader, vswitchd not applying.
  Backend,          ///< Any other error from the server or the IDL.
  ShuttingDown,     ///< The client is being destroyed.
};

/** An error value; `message` names the remote or row involved and is fit to show users. */
struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> makeError(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

}  // namespace ovsplane::ovsdb
