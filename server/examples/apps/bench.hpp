// The app every benchmarked server runs (docs/benchmarks.md, "The app every server runs": join,
// leave, whoami, echo, publish, publish-others, count), with a few events of its own for the tests
// (marked below). Written only against shmio's public headers; run by examples/bench.cpp
// (shmio-bench-app) and `shmio --app bench`.
#pragma once

#include <utility>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shmio/serve.hpp"

namespace shmio::examples::bench {

namespace sio = shmio::socketio;
namespace json = boost::json;

inline void defaults(ServeOptions& options) {
  options.name = "bench";
}

inline void setup(sio::Server& io, const WorkerInfo& info) {
  const int worker = info.index;
  const json::value pid = static_cast<std::int64_t>(::getpid());
  // Not in the benchmark's events: a server-side event, answered by every other worker (for tests).
  io.of("/").on_server_side("ping-workers",
                            [worker](sio::Args, std::function<void(sio::Args)> ack) {
                              ack(sio::Args{json::value(worker)});
                            });
  // (Also for tests: every other worker answers the argument it was given, binary data too.)
  io.of("/").on_server_side(
      "echo-workers", [](sio::Args a, std::function<void(sio::Args)> ack) { ack(std::move(a)); });
  // The events are registered once on the namespace, not per socket (Namespace::on_event):
  // every connection shares one handler table, which keeps an idle connection small.
  sio::Namespace& nsp = io.of("/");
  {
    auto who = [pid, worker] { return json::object{{"worker", worker}, {"pid", pid}}; };
    nsp.on_event("join", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->join(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    nsp.on_event("leave", [who](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      if (!a.values.empty() && a.values[0].is_string())
        s2->leave(std::string(a.values[0].get_string()));
      if (ack) ack(sio::Args{who()});
    });
    nsp.on_event("whoami", [who](const sio::SocketPtr& s2, sio::Args, sio::Ack ack) {
      json::object o = who();
      o["id"] = s2->id();
      if (ack) ack(sio::Args{o});
    });
    nsp.on_event("echo", [](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (ack) ack(std::move(a));
    });
    // socket.data, for the recovery tests (not part of the benchmark's load).
    nsp.on_event("set-data", [](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
      s2->data() = a.values.empty() ? json::value() : a.values[0];
      if (ack) ack(sio::Args{});
    });
    nsp.on_event("get-data", [](const sio::SocketPtr& s2, sio::Args, sio::Ack ack) {
      if (ack) ack(sio::Args{std::as_const(*s2).data()});
    });
    auto publish = [&io](bool others) {
      // Acknowledged when asked (the chaos suite's publishers: published to the ring when the
      // ack comes).
      return [&io, others](const sio::SocketPtr& s2, sio::Args a, sio::Ack ack) {
        // As the contract's `room ? io.to(room) : io`: a room only when a non-empty string, and
        // a payload left out sent as null, as Node sends undefined (before 2026-12-06 "" was a
        // room here and a publish without a payload did nothing; a review).
        const json::value room = a.values.empty() ? json::value() : a.values[0];
        sio::Args payload(json::array{a.values.size() > 1 ? a.values[1] : json::value()},
                          std::move(a.binaries));
        if (room.is_string() && !room.get_string().empty()) {
          const std::string r(room.get_string());
          if (others)
            s2->to(r).emit("msg", std::move(payload));
          else
            io.to(r).emit("msg", std::move(payload));
        } else {
          if (others)
            s2->broadcast().emit("msg", std::move(payload));
          else
            io.emit("msg", std::move(payload));
        }
        if (ack) ack({});
      };
    };
    // Not in the benchmark's events: n volatile (or plain) broadcasts to everyone in a burst, for
    // tests.
    nsp.on_event("burst", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t n =
          a.values.size() > 0 && a.values[0].is_int64() ? a.values[0].get_int64() : 0;
      const bool vol = a.values.size() > 1 && a.values[1].is_bool() && a.values[1].get_bool();
      for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 100000); ++i) {
        if (vol)
          sio::BroadcastOperator(io.of("/"), {}).volatile_().emit("v", sio::Args{i});
        else
          io.emit("v", sio::Args{i});
      }
      if (ack) ack({});
    });
    // Not in the benchmark's events: a broadcast with acks to every socket (for tests); answers the
    // caller with {error, responses}.
    nsp.on_event("ask-all", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t ms =
          !a.values.empty() && a.values[0].is_int64() ? a.values[0].get_int64() : 1000;
      sio::BroadcastOperator(io.of("/"), {})
          .timeout(std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000)))
          .emit_with_ack(
              "question", {}, [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
                json::array responses;
                for (auto& r : rs)
                  responses.push_back(r.values.empty() ? json::value() : r.values[0]);
                if (ack)
                  ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                             {"responses", std::move(responses)}}});
              });
    });
    // Not in the benchmark's events: io.except(room).emit, for tests.
    nsp.on_event("publish-except", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string()) {
        const std::string room(a.values[0].get_string());
        a.values.erase(a.values.begin());  // the rest go on, with the binaries they name
        io.of("/").except(room).emit("msg", std::move(a));
      }
      if (ack) ack({});
    });
    nsp.on_event("publish", publish(false));
    nsp.on_event("publish-others", publish(true));
    nsp.on_event("count", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
      sio::BroadcastOperator(io.of("/"), {})
          .fetch_sockets([ack](std::vector<sio::RemoteSocket> all) {
            if (ack) ack(sio::Args{static_cast<std::uint64_t>(all.size())});
          });
    });
    // Not in the benchmark's events (for tests): the cluster-wide operations.
    nsp.on_event("fetch", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      sio::BroadcastOperator op(io.of("/"), {});
      if (!a.values.empty() && a.values[0].is_string())
        op = std::move(op).to(std::string(a.values[0].get_string()));
      op.fetch_sockets([ack](std::vector<sio::RemoteSocket> all) {
        json::array out;
        for (const auto& r : all) {
          json::array rooms;
          for (const auto& room : r.rooms()) rooms.emplace_back(room);
          // (With two of its handshake's fields, for the fleet's tests: a socket of another
          // member read back as socket.io writes it.)
          const auto host = r.handshake().header("host");
          const auto eio = r.handshake().query().find("EIO");
          out.push_back(json::object{{"id", r.id()},
                                     {"rooms", std::move(rooms)},
                                     {"host", host ? json::value(*host) : json::value()},
                                     {"eio", eio ? json::value(*eio) : json::value()}});
        }
        if (ack) ack(sio::Args{std::move(out)});
      });
    });
    nsp.on_event("sockets-join", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string() && a.values[1].is_string())
        io.of("/")
            .to(std::string(a.values[0].get_string()))
            .sockets_join(std::string(a.values[1].get_string()));
      if (ack) ack({});
    });
    nsp.on_event("sockets-leave", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (a.values.size() >= 2 && a.values[0].is_string() && a.values[1].is_string())
        io.of("/")
            .to(std::string(a.values[0].get_string()))
            .sockets_leave(std::string(a.values[1].get_string()));
      if (ack) ack({});
    });
    nsp.on_event("disconnect-room", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      if (ack) ack({});
      if (!a.values.empty() && a.values[0].is_string())
        io.of("/").to(std::string(a.values[0].get_string())).disconnect_sockets(false);
    });
    nsp.on_event("ping-workers", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t ms =
          !a.values.empty() && a.values[0].is_int64() ? a.values[0].get_int64() : 2000;
      io.of("/").server_side_emit_with_ack(
          "ping-workers", {}, std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000)),
          [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
            json::array workers;
            for (auto& r : rs) workers.push_back(r.values.empty() ? json::value() : r.values[0]);
            if (ack)
              ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                         {"workers", std::move(workers)}}});
          });
    });
    // echo-workers (arg, ms, ack): what every other server answered to arg.
    nsp.on_event("echo-workers", [&io](const sio::SocketPtr&, sio::Args a, sio::Ack ack) {
      const std::int64_t ms =
          a.values.size() >= 2 && a.values[1].is_int64() ? a.values[1].get_int64() : 2000;
      sio::Args arg(json::array{a.values.empty() ? json::value() : a.values[0]},
                    std::move(a.binaries));
      io.of("/").server_side_emit_with_ack(
          "echo-workers", std::move(arg),
          std::chrono::milliseconds(std::clamp<std::int64_t>(ms, 1, 60000)),
          [ack](std::optional<std::string> err, std::vector<sio::Args> rs) {
            // Each answer as it came; a binary one as {"binary": [byte, ...]} (what a test
            // checks: that it came as binary data, not as an object standing for it).
            json::array answers;
            for (auto& r : rs) {
              json::value v = r.values.empty() ? json::value() : r.values[0];
              std::size_t num = 0;
              if (sio::is_placeholder(v, &num) && num < r.binaries.size() && r.binaries[num]) {
                json::array bytes;
                for (const char c : *r.binaries[num])
                  bytes.emplace_back(static_cast<unsigned char>(c));
                v = json::object{{"binary", std::move(bytes)}};
              }
              answers.push_back(std::move(v));
            }
            if (ack)
              ack(sio::Args{json::object{{"error", err ? json::value(*err) : json::value()},
                                         {"answers", std::move(answers)}}});
          });
    });
    nsp.on_event("server-count", [&io](const sio::SocketPtr&, sio::Args, sio::Ack ack) {
      if (ack) ack(sio::Args{static_cast<std::uint64_t>(io.of("/").server_count())});
    });
  }
}

}  // namespace shmio::examples::bench
