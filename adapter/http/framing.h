#pragma once
// How the proxy frames a client's request head: the limits its parser runs with and what it
// makes of what was read. Pure functions over Beast's parser, fuzzed alone (fuzz/framing_fuzz).

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>

#include "adapter/http/message.h"

namespace ovsplane::adapter {

using RequestHeadParser = boost::beast::http::request_parser<boost::beast::http::buffer_body>;

/** Sets the proxy's limits on a fresh parser: heads up to kMaxHeaderBytes (dockerd's own),
 *  bodies unbounded (they stream; bodies buffered for hooks get their own limit). */
void limitRequestParser(RequestHeadParser& parser);

/** What the proxy does with a request head it tried to read. */
struct HeadVerdict {
  enum class Kind { Serve, Refuse, Closed } kind = Kind::Serve;
  HttpAnswer refusal;  ///< Refuse: written to the client, then the connection ends
};

/**
 * Judges a request head read into `parser`; `readError` is the read's error
 * (boost::beast::http::error::header_limit also for Beast's std::length_error, one field past
 * kMaxHeaderFieldBytes):
 *  - the client went (EOF, reset, shut down by the reaper): Closed;
 *  - a head past kMaxHeaderBytes, or one field past kMaxHeaderFieldBytes: 431;
 *  - garbage, or framing that could smuggle a second request (Content-Length with
 *    Transfer-Encoding, two Content-Lengths): 400;
 *  - a target that is no API path (authority or asterisk form, a broken %-escape, NUL): 400;
 *  - else Serve, with the parser's target replaced by the one dockerd would route
 *    (normalizeTarget), so that hooks and dockerd see the same request.
 * Never throws.
 */
HeadVerdict judgeRequestHead(RequestHeadParser& parser, const boost::system::error_code& readError);

}  // namespace ovsplane::adapter
