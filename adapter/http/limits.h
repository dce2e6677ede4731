#pragma once
// The transport's limits and timeouts, written once for the hook server and the proxy (both
// stand on adapter/http/). Options structs take their defaults from here.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ovsplane::adapter {

/** HTTP heads (request or response) through the proxy may be this large: dockerd accepts
 *  1 MiB, and `docker build` sends large X-Registry-Config headers. Larger ones are answered
 *  431. (One field may hold at most kMaxHeaderFieldBytes: Beast's limit.) */
inline constexpr uint32_t kMaxHeaderBytes = 1024 * 1024;
/** Beast stores a field's value in at most 64 KiB (it throws std::length_error past that). */
inline constexpr uint32_t kMaxHeaderFieldBytes = 65533;
/** Hook requests need little: heads past this get 431 from the hook server. */
inline constexpr uint32_t kMaxHookHeaderBytes = 60 * 1024;
/** Bodies the proxy buffers for hooks (a create body, Docker's answer to it). */
inline constexpr size_t kMaxHookBodyBytes = 16 * 1024 * 1024;
/** Bodies of hook requests the hook server takes. */
inline constexpr size_t kMaxHookRequestBytes = 4 * 1024 * 1024;
/** Answers an HTTP client (an external adapter's) may send. */
inline constexpr size_t kMaxClientReplyBytes = 64 * 1024 * 1024;

/** A client must send a request's head within this (idle keep-alive connections included). */
inline constexpr std::chrono::milliseconds kHeaderTimeout{60000};
/** A body the proxy buffers must arrive within this. */
inline constexpr std::chrono::milliseconds kBodyTimeout{60000};
/** One read or write of the hook server. */
inline constexpr std::chrono::milliseconds kIoTimeout{30000};
/** Connecting to dockerd or an adapter. */
inline constexpr std::chrono::milliseconds kConnectTimeout{10000};
/** dockerd's answer to a request with post-hooks (create, start, remove: buffered, so that the
 *  hooks see it). Streamed answers (logs -f, wait, attach, events, stop -t 600) have none:
 *  they may rightly stay silent for hours. */
inline constexpr std::chrono::milliseconds kHookedAnswerTimeout{300000};
/** Connections served at once by one listener set; more are answered 503 and closed. */
inline constexpr int kMaxConnections = 2048;
/** How long an accept loop waits when the process is out of descriptors or memory. */
inline constexpr std::chrono::milliseconds kAcceptBackoff{100};

}  // namespace ovsplane::adapter
