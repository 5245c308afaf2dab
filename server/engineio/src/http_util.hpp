// The HTTP side's small pieces: the request target (path, query pairs), URL decoding, header
// names in lower case, the path check (private to engineio/src).
#pragma once

#include "shmio/engineio/log_text.hpp"
#include "shmio/engineio/packet.hpp"
#include "shmio/engineio/server.hpp"

#include "deadline_heap.hpp"
#include "link.hpp"
#include "uring.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/detail/hybi13.hpp>
#include <chrono>

#include <cctype>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace shmio::engineio {

// The names every source of the transports uses (the other private headers include this one).
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

namespace http_util {

// `text` as a JSON string's contents: quote, backslash and control characters escaped.
inline std::string json_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

// A query string's name or value, decoded as Node's querystring decodes it: "%XX" escapes and
// '+', and bytes that do not make UTF-8 each maximal subpart replaced by U+FFFD (before
// 2026-12-03 "%FF" stayed a raw 0xFF byte, which the ring's JSON then could not carry: a socket
// whose handshake query held one made every fetchSockets from another worker time out).
inline std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  if (auto mended = mend_utf8(out)) return std::move(*mended);
  return out;
}

// (Below: a request without a session id in its query.)
inline bool is_handshake(const http::request<http::string_body>& req);

struct Target {
  std::string path;
  std::unordered_map<std::string, std::string> query;
};

inline std::string lower(std::string_view v) {
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The application's view of a request (routes, header hooks, connection errors): views into
// `req`, valid while it lives, and the peer's `address` (copied: kept by the request's header
// function, as a repeated header's joined value is).
inline ServerOptions::HttpRequest http_request(const http::request<http::string_body>& req,
                                               std::string_view address = "?") {
  const std::string_view target = req.target();
  const std::size_t qm = target.find('?');
  struct Kept {
    std::string address;
    std::deque<std::string> joined;  // (a deque: the views given out stay where they are)
  };
  auto kept = std::make_shared<Kept>();
  kept->address = address;
  const std::string_view kept_address = kept->address;
  return ServerOptions::HttpRequest{
      req.method_string(),
      target.substr(0, qm),
      qm == std::string_view::npos ? std::string_view{} : target.substr(qm + 1),
      req.body(),
      [&req, kept](std::string_view name) -> std::optional<std::string_view> {
        auto [first, last] = req.equal_range(name);
        if (first == last) return std::nullopt;
        const std::string lowered = lower(name);
        if (std::next(first) == last || HandshakeRequest::Pairs::node_keeps_first(lowered))
          return std::string_view(first->value());
        std::string all;
        for (auto it = first; it != last; ++it) {
          if (it != first) all += lowered == "cookie" ? "; " : ", ";
          all += std::string_view(it->value());
        }
        return std::string_view(kept->joined.emplace_back(std::move(all)));
      },
      kept_address};
}

// The subprotocol a WebSocket upgrade is answered with: one the client offered in
// Sec-WebSocket-Protocol (RFC 6455 4.2.2), the first, as engine.io's ws server picks; "" when none
// is offered; nullopt when the header is not a list of distinct tokens (ws answers 400 "Invalid
// Sec-WebSocket-Protocol header"). Before 2026-12-04 none was ever answered, and a client that
// offered one (engine.io-client's `protocols`, often an auth token) failed the handshake.
// Each item of a comma-separated header list (RFC 9110 5.6.1) over every line of `field`, blanks
// around it taken off, empty ones too: `fn(item)` returns false to stop. False if it stopped.
template <class Fn>
bool each_list_item(const http::request<http::string_body>& req, http::field field, Fn&& fn) {
  for (auto [it, end] = req.equal_range(field); it != end; ++it) {
    const std::string_view v = it->value();
    std::size_t at = 0;
    for (;;) {
      std::size_t comma = v.find(',', at);
      if (comma == std::string_view::npos) comma = v.size();
      std::string_view t = v.substr(at, comma - at);
      while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
      if (!fn(t)) return false;
      if (comma == v.size()) break;
      at = comma + 1;
    }
  }
  return true;
}

inline std::optional<std::string> chosen_subprotocol(const http::request<http::string_body>& req) {
  const auto tchar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  // (A set: a header of thousands of one-letter tokens, within the header's bound, was compared
  // with each before it, some 15 million comparisons a request; found by a review, 2026-12-05.)
  std::unordered_set<std::string_view> offered;
  std::string_view first;
  const bool all_good =
      each_list_item(req, http::field::sec_websocket_protocol, [&](std::string_view t) {
        if (t.empty() || !std::all_of(t.begin(), t.end(), tchar) || !offered.insert(t).second)
          return false;
        if (first.empty()) first = t;
        return true;
      });
  if (!all_good) return std::nullopt;
  return std::string(first);
}

// A Set-Cookie value as the cookie package's serialize(name, value, opts) writes engine.io's
// (ServerOptions::cookie; its attributes checked when the Server is made).
inline std::string set_cookie(const ServerOptions::Cookie& c, std::string_view value) {
  std::string out = c.name + "=" + std::string(value);
  if (c.max_age_s) out += "; Max-Age=" + std::to_string(*c.max_age_s);
  if (!c.domain.empty()) out += "; Domain=" + c.domain;
  if (!c.path.empty()) out += "; Path=" + c.path;
  if (c.http_only) out += "; HttpOnly";
  if (c.secure) out += "; Secure";
  if (!c.same_site.empty()) out += "; SameSite=" + c.same_site;
  return out;
}

// A response field an app gave that must not be written: a name that is no HTTP token (1,024
// bytes at most), a value with a control character but tab (a line break would split the
// response), or one past 60,000 bytes (Beast holds a value of under 64 KiB: past it
// std::length_error, out of io.run()).
inline bool bad_field(std::string_view name, std::string_view value) {
  const auto token = [](unsigned char c) {
    return std::isalnum(c) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  };
  const auto control = [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; };
  return name.empty() || name.size() > 1024 || value.size() > 60000 ||
         !std::all_of(name.begin(), name.end(), token) ||
         std::any_of(value.begin(), value.end(), control);
}

// The header hooks' additions for a response to `req`.
inline ServerOptions::Headers hooked_headers(const ServerOptions& o,
                                             const http::request<http::string_body>& req,
                                             std::string_view address) {
  ServerOptions::Headers h;
  if (!o.initial_headers && !o.headers) return h;
  const ServerOptions::HttpRequest hr = http_request(req, address);
  try {
    if (o.initial_headers && is_handshake(req)) o.initial_headers(h, hr);
    if (o.headers) o.headers(h, hr);
  } catch (...) {
    std::fprintf(stderr, "shmio: headers handler threw: %s\n", thrown_what().c_str());
  }
  // A name or value that would split the response, or that Beast cannot hold (a value of 64 KiB:
  // std::length_error out of io.run() at the first polling answer or 101, before 2026-12-05; a
  // review): not written, and said.
  // (At most a line a second: the hook runs for every response.)
  std::erase_if(h, [](const auto& f) {
    if (!bad_field(f.first, f.second)) return false;
    static std::atomic<std::int64_t> said_at_s{-1};
    if (first_this_second(said_at_s))
      std::fprintf(stderr,
                   "shmio: headers handler's field refused: a name or value with a line break, "
                   "an empty name or one that is no token, or one too long (%zu, %zu bytes)\n",
                   f.first.size(), f.second.size());
    return true;
  });
  return h;
}

// Calls `f(name, value)` for each pair of the target's query string, decoded, in order.
template <class F>
void for_each_query_pair(std::string_view target, F&& f) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::size_t eq = pair.find('=');
    f(url_decode(pair.substr(0, eq)),
      eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
}

// (An empty sid is no session id, as engine.io's `if (sid)` takes it: a handshake. Before
// 2026-12-06 "sid=" was looked up, and answered "Session ID unknown"; a review.)
inline Target parse_target(std::string_view target) {
  Target t;
  t.path = std::string(target.substr(0, target.find('?')));
  for_each_query_pair(target, [&](std::string k, std::string v) {
    if (!(v.empty() && k == "sid")) t.query[std::move(k)] = std::move(v);
  });
  return t;
}

// A request without a session id in its query: a handshake. (Decoded, as parse_target reads it:
// the raw text's "sid=" was looked for before 2026-12-06, so "%73id=<sid>" was a session's
// request to the engine and a handshake to initial_headers and the cookie; "sid=" the reverse.)
inline bool is_handshake(const http::request<http::string_body>& req) {
  bool sid = false;
  for_each_query_pair(req.target(), [&](const std::string& k, const std::string& v) {
    if (k == "sid" && !v.empty()) sid = true;
  });
  return !sid;
}

inline std::vector<std::pair<std::string, std::string>> lower_case_headers(const Request& req) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& f : req) headers.emplace_back(lower(f.name_string()), std::string(f.value()));
  return headers;
}

// The app's allow_request, asked: an exception of its own is a refusal, said (it left io.run()
// before 2026-12-04; a helper's review).
template <class Options>
bool ask_allow_request(const Options& o, const Request& req) {
  try {
    return o.allow_request(lower_case_headers(req));
  } catch (...) {
    std::fprintf(stderr, "shmio: allow_request threw: %s (the request is refused)\n",
                 thrown_what().c_str());
    return false;
  }
}

inline std::shared_ptr<const HandshakeRequest> handshake_request(const Request& req,
                                                                 std::string_view address) {
  auto h = std::make_shared<HandshakeRequest>();
  std::string name;
  for (const auto& f : req) {
    name.assign(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h->add_header(name, f.value());
  }
  // In the buffer's own order (headers, query, url, address): each part is appended, none moved.
  for_each_query_pair(req.target(),
                      [&](const std::string& k, const std::string& v) { h->add_query(k, v); });
  h->set_url(req.target());
  h->set_address(address);
  h->shrink();
  return h;
}

inline bool same_path(std::string_view got, std::string_view want) {
  auto strip = [](std::string_view v) {
    while (!v.empty() && v.back() == '/') v.remove_suffix(1);
    return v;
  };
  return strip(got) == strip(want);
}

}  // namespace http_util
using namespace http_util;

}  // namespace shmio::engineio
