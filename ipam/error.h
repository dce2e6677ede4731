#pragma once

#include <expected>
#include <string>

#include "common/error.h"

namespace ovsplane::ipam {

/** What went wrong, so callers can map errors to answers (a bad CIDR is the user's fault, an
 *  unavailable store is not). */
enum class ErrorCode {
  InvalidArgument,   ///< Unparsable or unsupported input (CIDR, address, owner).
  OutOfRange,        ///< A requested address outside the network's host range.
  ReservedAddress,   ///< A requested network, gateway or broadcast address.
  AddressTaken,      ///< A requested address that another owner holds.
  OwnerConflict,     ///< The owner already holds a different address in the network.
  Exhausted,         ///< No free address left in the network.
  StoreUnavailable,  ///< The persistence layer failed; retrying may help.
};

using Error = BasicError<ErrorCode>;

template <typename T>
using Result = std::expected<T, Error>;

using ovsplane::makeError;

}  // namespace ovsplane::ipam
