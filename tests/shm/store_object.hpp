// A test's hands on the session table's object (shm/src/session_store.cpp's byte layout): for
// tests that write into it directly, e.g. a slot's lock word naming a live child as its holder.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace shmio::test {

// A child that lives until killed (its pid and start time name a live holder).
inline pid_t live_child() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) ::pause();
  }
  return pid;
}
inline void kill_child(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// The store's object, mapped by a test that writes into it directly (the byte layout at the top
// of shm/src/session_store.cpp: a 4 KiB header — slots, slot_bytes, index_entries at bytes 24,
// 28, 32 —, the index of 2 x slots u32 entries rounded up to 128 and then to 4 KiB, then the
// slots: lock u64, state u32, flags u32, hash, owner pid, owner start, since (u64 each), key_len
// u32 at 48, state_len u32 at 52).
struct StoreObject {
  explicit StoreObject(const std::string& ring, std::uint32_t slots) {
    if (DIR* d = ::opendir("/dev/shm")) {
      const std::string start = "shmio-sessions." + ring + ".";
      while (dirent* e = ::readdir(d))
        if (std::string(e->d_name).rfind(start, 0) == 0)
          path = "/dev/shm/" + std::string(e->d_name);
      ::closedir(d);
    }
    std::uint64_t entries = 128;
    while (entries < 2ULL * slots) entries <<= 1;
    index_entries = entries;
    slot0 = 4096 + (entries * 4 + 4095) / 4096 * 4096;
    const int fd = ::open(path.c_str(), O_RDWR);
    if (fd < 0) throw std::runtime_error("no store object for " + ring);
    base = ::mmap(nullptr, slot0 + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED) throw std::runtime_error("mmap");
  }
  ~StoreObject() { ::munmap(base, slot0 + 4096); }
  template <class T>
  std::atomic<T>& at(std::uint64_t offset) {
    return *reinterpret_cast<std::atomic<T>*>(static_cast<char*>(base) + offset);
  }
  std::atomic<std::uint64_t>& slot_zero_lock() { return at<std::uint64_t>(slot0); }
  std::atomic<std::uint32_t>& index(std::uint64_t i) { return at<std::uint32_t>(4096 + 4 * i); }
  std::string path;
  void* base = nullptr;
  std::uint64_t index_entries = 0, slot0 = 0;
};

}  // namespace shmio::test
