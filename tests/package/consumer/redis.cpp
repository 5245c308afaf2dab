// A consumer of shmio::redis: the Redis emitter refuses a URL it cannot read, with a sentence,
// and takes a good one without connecting (it connects at its first emit). Prints
// "consumer_redis: ok".
#include <cstdio>
#include <stdexcept>
#include <string>

#include "shmio/redis/emitter.hpp"

int main() {
  try {
    shmio::redis::Emitter bad("http://not-redis");
    std::puts("consumer_redis: a URL of another scheme was taken");
    return 1;
  } catch (const std::invalid_argument& e) {
    std::printf("consumer_redis: refused as it should be (%s)\n", e.what());
  }
  shmio::redis::Emitter good("redis://127.0.0.1:1");
  std::puts("consumer_redis: ok");
  return 0;
}
