#pragma once
// What the transport hands to the services above it and takes back: a request as read, and an
// answer to write. No Powerstrip, no Docker semantics (but Docker's error shape, which every
// client of ovsplane's sockets understands).

#include <string>
#include <string_view>

namespace ovsplane::adapter {

/** An HTTP request as a handler sees it (valid during the call). */
struct HttpRequestView {
  std::string_view method;
  std::string_view target;
  std::string_view body;
};

/** What a handler answers: a status, a content type and a body. */
struct HttpAnswer {
  unsigned status = 200;
  std::string contentType = "application/json";
  std::string body;
};

/** A 2xx status. */
inline bool isSuccess(unsigned status) { return status >= 200 && status < 300; }

/** An error in Docker's shape, {"message":"ovsplane: <message>"}, which the docker CLI prints. */
HttpAnswer errorAnswer(unsigned status, std::string_view message);

/** A complete `status` answer with `answer`'s body and Connection: close, as raw bytes (for
 *  refusals written without waiting: 503 past the connection cap). */
std::string closingResponseText(const HttpAnswer& answer);

}  // namespace ovsplane::adapter
