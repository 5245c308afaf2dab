// A shared library with shmio linked in (tests/package/consumer: it must link).
#include <boost/asio/io_context.hpp>

#include "shmio/cluster/wire.hpp"
#include "shmio/socketio/server.hpp"

extern "C" int consumer_plugin_probe() {
  boost::asio::io_context io;
  shmio::socketio::Server server(io, shmio::socketio::ServerOptions{});
  return static_cast<int>(server.namespace_names().size()) +
         (shmio::cluster::position_of(shmio::cluster::offset_of(3)) == 3u ? 0 : 100);
}
