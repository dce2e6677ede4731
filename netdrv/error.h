#pragma once

#include <expected>
#include <string>

#include "common/error.h"

namespace ovsplane::netdrv {

/** What went wrong, so the adapter can answer with the right HTTP status. */
enum class ErrorCode {
  InvalidRequest,  ///< The user's request cannot be served as asked (bad CIDR, -p with a CIDR...).
  NotFound,        ///< A container, image, link or namespace that does not exist.
  Conflict,        ///< Exists already / taken / exhausted.
  Unavailable,     ///< A dependency (dockerd, OVSDB, netlink) failed or timed out; may be retried.
  Internal,        ///< A bug or an impossible state.
};

using Error = BasicError<ErrorCode>;

template <typename T>
using Result = std::expected<T, Error>;

using ovsplane::makeError;

}  // namespace ovsplane::netdrv
