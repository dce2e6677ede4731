#pragma once

#include <expected>
#include <string>

#include "common/error.h"

namespace ovsplane::ovsdb {

enum class ErrorCode {
  InvalidArgument,  ///< Rejected before any transaction (bad name, unknown network, ...).
  NotFound,         ///< A row the operation needs does not exist (e.g. a port's bridge).
  Conflict,         ///< The database refused the change (constraint, existing row elsewhere).
  Timeout,          ///< No answer in time: server unreachable, not leader, vswitchd not applying.
  Backend,          ///< Any other error from the server or the IDL.
  ShuttingDown,     ///< The client is being destroyed.
};

using Error = BasicError<ErrorCode>;

template <typename T>
using Result = std::expected<T, Error>;

using ovsplane::makeError;

}  // namespace ovsplane::ovsdb
