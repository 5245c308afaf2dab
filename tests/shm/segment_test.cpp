// Segment creation and the refusals of attach(): wrong magic, version, size, state, permissions.
// A refused attach must leave the object byte-for-byte unchanged.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "shmio/shm/process.hpp"
#include "test_support.hpp"

namespace shmio::shm {
namespace {

using test::RingName;

std::string shm_path(const std::string& name) {
  return Segment::object_path(name);
}

// /dev/shm's tmpfs huge= mount option as /proc/mounts shows it ("" when it shows none).
std::string dev_shm_huge_option() {
  std::ifstream mounts("/proc/mounts");
  std::string device, dir, type, options, line, found;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    if (!(in >> device >> dir >> type >> options) || dir != "/dev/shm") continue;
    found.clear();  // the last mount on /dev/shm is the one seen
    for (std::size_t at = 0; at <= options.size();) {
      std::size_t comma = options.find(',', at);
      if (comma == std::string::npos) comma = options.size();
      if (options.compare(at, 5, "huge=") == 0) found = options.substr(at + 5, comma - at - 5);
      at = comma + 1;
    }
  }
  return found;
}

std::vector<char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Rewrites bytes of an object directly, as a foreign program or corruption would.
void poke(const std::string& name, std::size_t offset, const void* bytes, std::size_t n) {
  int fd = ::open(shm_path(name).c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, bytes, n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
}

// Reaching the value of a Result that holds an Error throws BadResultAccess with that Error, and
// its sentence in what(); error() of a value throws too: the same in every build (a Debug build
// stopped at an assert, a Release build threw std::bad_variant_access, before 2026-12-04).
TEST(Result, TheWrongSideThrowsBadResultAccessWithTheError) {
  const auto failed = Segment::attach(RingName("no-such-ring").str());
  ASSERT_FALSE(failed);
  try {
    (void)failed.value();
    ADD_FAILURE() << "value() of an error returned";
  } catch (const BadResultAccess& e) {
    EXPECT_EQ(e.error().code, Errc::not_found);
    EXPECT_NE(std::string(e.what()).find(failed.error().message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
  const Result<int> ok(7);
  EXPECT_EQ(*ok, 7);  // (a const Result's value)
  EXPECT_THROW((void)ok.error(), BadResultAccess);
  const Result<void> done;
  EXPECT_NO_THROW(done.value());
  EXPECT_THROW((void)done.error(), BadResultAccess);
  const Result<void> refused(Error{Errc::invalid_argument, "capacity 3 is not a power of two"});
  EXPECT_THROW(refused.value(), BadResultAccess);
  EXPECT_THROW((void)Result<std::string>(Error{Errc::not_ready, {}}).value(), std::logic_error);
}

// signal_process reaches the process its identity names and no other that has its pid since: a
// stopped child is not continued through an identity with another start time (as after the pid's
// reuse), and is through its own. (The supervisor continues a producer stopped in the middle of a
// write this way; before 2026-12-06 by kill() on the pid of a look made before.)
TEST(Process, ASignalGoesOnlyToTheProcessItsIdentityNames) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::raise(SIGSTOP);
    ::_exit(0);
  }
  // (Killed and reaped on an early return: a stopped child would outlive the test.)
  bool reaped = false;
  struct Reap {
    pid_t pid;
    bool& done;
    ~Reap() {
      if (done) return;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{child, reaped};
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, WUNTRACED), child);
  ASSERT_TRUE(WIFSTOPPED(status));
  const shm::ProcessIdentity who{child, shm::process_start_time(child)};
  ASSERT_NE(who.start_time, 0u);
  EXPECT_EQ(shm::signal_process({child, who.start_time + 1}, SIGCONT), ESRCH);
  EXPECT_EQ(shm::look_up_process(child).state, 'T') << "continued through another's identity";
  EXPECT_EQ(shm::signal_process({child, 0}, SIGCONT), EINVAL) << "no start time to check by";
  ASSERT_EQ(shm::signal_process(who, SIGCONT), 0);
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // (it went on, and exited)
  reaped = true;
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(shm::signal_process(who, SIGCONT), ESRCH) << "a process gone";
}

// A forked child's threads each read the child's own identity, never the parent's start time
// beside the child's pid: before 2026-12-06 the cached pid and start time were two words, and a
// thread could read one of each while another thread of the child rewrote them (other processes
// then took the child for dead). 200 children, two threads each asking at once.
TEST(Process, AForkedChildsThreadsEachReadItsOwnIdentity) {
  const ProcessIdentity parent = self_identity();  // (cached here: the child starts with it)
  ASSERT_NE(parent.start_time, 0u);
  int wrong = 0, failed = 0;
  for (int i = 0; i < 200; ++i) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const std::uint64_t own = process_start_time(::getpid());
      std::atomic<bool> go{false};
      std::atomic<int> bad{0};
      auto ask = [&] {
        while (!go.load()) {
        }
        const ProcessIdentity me = self_identity();
        if (me.pid != ::getpid() || me.start_time != own) bad.fetch_add(1);
      };
      std::thread a(ask), b(ask);
      go = true;
      a.join();
      b.join();
      ::_exit(own == 0 ? 2 : bad.load() != 0 ? 1 : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    wrong += WEXITSTATUS(status) == 1;
    failed += WEXITSTATUS(status) == 2;
  }
  EXPECT_EQ(wrong, 0) << "children whose threads read another process's identity";
  EXPECT_EQ(failed, 0) << "children that could not read their start time";
}

TEST(Segment, CreateWritesTheHeaderAndAttachReadsIt) {
  RingName name("seg");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  cfg.max_record = 1000;
  cfg.max_producers = 3;
  cfg.max_readers = 5;
  auto created = Segment::create(cfg);
  ASSERT_TRUE(created) << created.error().message;
  auto s = Segment::attach(name);
  ASSERT_TRUE(s) << s.error().message;
  const auto& h = s->header();
  EXPECT_EQ(h.magic, layout::kMagic);
  EXPECT_EQ(h.layout_version, layout::kLayoutVersion);
  EXPECT_EQ(h.capacity, 1u << 16);
  EXPECT_EQ(h.max_record, 1000u);
  EXPECT_EQ(h.max_producers, 3);
  EXPECT_EQ(h.max_readers, 5);
  EXPECT_EQ(h.creator_pid, ::getpid());
  EXPECT_EQ(h.creator_start_time, self_identity().start_time);
  EXPECT_GT(h.creation_time_ns, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(shm_path(name).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), h.segment_bytes);
}

// still_named(): whether the ring's name still names the file a segment maps (what an emitter
// and `shm-inspect watch` go by): not once it is removed, nor once a ring is made anew under it.
TEST(Segment, StillNamedUntilTheNameIsRemovedOrMadeAnew) {
  RingName name("still-named");
  auto first = test::make_ring(name, 1 << 16);
  auto attached = shm::Segment::attach(name, shm::AttachMode::read_only);
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_TRUE(first.still_named());
  EXPECT_TRUE(attached.value().still_named()) << "attached: the same file";
  ASSERT_TRUE(shm::Segment::remove(name));
  EXPECT_FALSE(first.still_named()) << "removed";
  auto second = test::make_ring(name, 1 << 16);
  EXPECT_FALSE(attached.value().still_named()) << "made anew under the name";
  EXPECT_TRUE(second.still_named());
  shm::Segment moved = std::move(second);
  EXPECT_TRUE(moved.still_named()) << "the identity moves with the segment";
  // Truncated under its name: not the ring whole (its pages past the new end are a SIGBUS).
  ASSERT_EQ(::truncate(shm::Segment::object_path(name).c_str(), 4096), 0);
  EXPECT_FALSE(moved.still_named()) << "truncated";
}

// RingConfig::hold_lock: the ring's file is held (Segment::held) while the Segment its maker
// got lives, in that process or in one forked from it meanwhile, whoever looks; not once every
// such process let it go; never without hold_lock. `same`: a file other than the one a segment
// maps is told held (not the looker's to judge).
TEST(Segment, AHeldRingIsToldHeldWhileItsMakerOrAForkedChildLives) {
  RingName name("held");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  EXPECT_FALSE(Segment::held(name)) << "no such ring";
  {
    auto plain = Segment::create(cfg);
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_FALSE(Segment::held(name)) << "made without hold_lock";
    EXPECT_FALSE(Segment::held(name, &plain.value()));
    ASSERT_TRUE(Segment::remove(name));
  }
  cfg.hold_lock = true;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::optional<Segment> made;
  {
    auto seg = Segment::create(cfg);
    ASSERT_TRUE(seg) << seg.error().message;
    made.emplace(std::move(seg.value()));
  }
  EXPECT_TRUE(Segment::held(name)) << "its maker's Segment lives";
  EXPECT_TRUE(Segment::held(name)) << "a look lets go of what it took";
  auto attached = Segment::attach(name, AttachMode::read_only);
  ASSERT_TRUE(attached) << attached.error().message;
  Segment moved = std::move(*made);
  made.reset();
  EXPECT_TRUE(Segment::held(name, &attached.value())) << "the lock moves with the segment";
  // A child forked without KeepRingLocksAcrossFork (a helper an app forks and leaves running)
  // lets go of it at once; one forked inside it (a cluster's worker) holds it; that one's own
  // fork lets go again. Each waits until the pipe says go (or is closed), and first says on
  // `told` that it runs: the fork handler has run by then (it runs in the child before fork()
  // returns there, not before it returns in the parent: a look at once found the helper still
  // holding its copy under TSan, which slows a child's start).
  int told[2];
  ASSERT_EQ(::pipe(told), 0);
  auto fork_waiting = [&go, &told](auto in_child) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(go[1]);
      (void)!::write(told[1], "s", 1);
      in_child();
      char c = 0;
      ::_exit(::read(go[0], &c, 1) == 1 ? 0 : 1);
    }
    return pid;
  };
  const pid_t helper = fork_waiting([] {});
  ASSERT_GE(helper, 0);
  pid_t child = -1;
  {
    const KeepRingLocksAcrossFork keep;
    child = fork_waiting([&] {  // (its own helper: forked without keeping)
      const pid_t grandchild = ::fork();
      if (grandchild == 0) {
        (void)!::write(told[1], "c", 1);
        char c = 0;
        ::_exit(::read(go[0], &c, 1) == 1 ? 0 : 1);
      }
      (void)!::write(told[1], grandchild > 0 ? "g" : "x", 1);
    });
  }
  ASSERT_GE(child, 0);
  std::string started;  // (the helper's "s", the kept child's "s" and "g", the grandchild's "c")
  while (started.size() < 4) {
    pollfd pf{told[0], POLLIN, 0};
    ASSERT_EQ(::poll(&pf, 1, 10000), 1) << "started: " << started;
    char c = 0;
    ASSERT_EQ(::read(told[0], &c, 1), 1);
    started += c;
  }
  std::sort(started.begin(), started.end());
  ASSERT_EQ(started, "cgss");
  ::close(go[0]);
  { Segment gone = std::move(moved); }  // (the maker's Segment destroyed)
  EXPECT_TRUE(Segment::held(name)) << "a child forked keeping the locks holds it";
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_FALSE(Segment::held(name))
      << "held by a child forked without keeping the locks, or by the kept child's own fork";
  ASSERT_EQ(::write(go[1], "xx", 2), 2);
  ::close(go[1]);
  ::close(told[0]);
  ::close(told[1]);
  ASSERT_EQ(::waitpid(helper, &status, 0), helper);
  EXPECT_FALSE(Segment::held(name)) << "everyone let go";
  // Another file under the name than the one a segment maps: told held to that segment's looker.
  ASSERT_TRUE(Segment::remove(name));
  cfg.hold_lock = false;
  auto other = Segment::create(cfg);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_FALSE(Segment::held(name));
  EXPECT_TRUE(Segment::held(name, &attached.value())) << "not the file it maps";
  EXPECT_FALSE(Segment::held(name, &other.value()));
}

TEST(Segment, MirrorMappingMakesTheEndContiguous) {
  RingName name("mirror");
  auto s = test::make_ring(name, 1 << 16);
  std::byte* last = s.data(s.capacity() - 1);
  *last = std::byte{0x5A};
  EXPECT_EQ(*s.data(s.capacity() - 1), std::byte{0x5A});
  // The byte after the physical end is the first byte again.
  *s.data(0) = std::byte{0x11};
  EXPECT_EQ(last[1], std::byte{0x11});
}

// Huge pages are advice: the ring works whether or not the kernel grants them, every attacher
// asks too (the header says so), and where shared-memory huge pages are off none are reported.
TEST(Segment, HugePagesAreAskedForAndTheRingWorksEitherWay) {
  RingName name("huge");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 4 << 20;
  cfg.huge_pages = true;
  auto created = Segment::create(cfg);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->header().flags & layout::kHeaderHugePages, layout::kHeaderHugePages);
  // The mirror still makes the end contiguous on the 2 MiB-aligned mapping.
  *created->data(created->capacity() - 1) = std::byte{0x5A};
  *created->data(0) = std::byte{0x11};
  EXPECT_EQ(created->data(created->capacity() - 1)[1], std::byte{0x11});
  auto other = Segment::attach(name);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(*other->data(created->capacity() - 1), std::byte{0x5A});
  auto w = RingWriter::attach(*other, {"w", -1});
  ASSERT_TRUE(w);
  auto r = RingReader::attach(*created, {"r", -1, StartAt::oldest});
  ASSERT_TRUE(r);
  const std::string hello = "hello";
  ASSERT_EQ(w->publish(7, {reinterpret_cast<const std::byte*>(hello.data()), hello.size()}),
            PublishStatus::ok);
  std::string got;
  r->poll([&](const RecordView& v) {
    got.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
  });
  EXPECT_EQ(got, hello);
  // /dev/shm's huge pages are its tmpfs mount's (huge=, shown in /proc/mounts; none means never).
  const std::string option = dev_shm_huge_option();
  if (option.empty() || option == "never" || option == "deny") {
    EXPECT_EQ(created->huge_page_bytes(), 0u) << "/dev/shm has no huge pages: huge=" << option;
  }
  // (Where they are on, what was granted is the kernel's choice here: reported, not asserted.
  // SegmentOnPrivateShm below asserts it on a mount of its own.)
  RecordProperty("huge_page_bytes", std::to_string(created->huge_page_bytes()));
}

// The tests below run only under tests/shm/private_shm.sh, which mounts a tmpfs of its own
// (size=48m, huge=advise) over /dev/shm in a private mount namespace and sets
// SHMIO_TEST_PRIVATE_SHM=huge; elsewhere they are skipped (and ctest reports that entry as
// skipped). Under the script, a /dev/shm that is not that mount is a failure, not a skip.
bool on_private_huge_shm() {
  const char* v = std::getenv("SHMIO_TEST_PRIVATE_SHM");
  if (v == nullptr) return false;
  EXPECT_EQ(std::string(v), "huge");
  EXPECT_EQ(dev_shm_huge_option(), "advise") << "SHMIO_TEST_PRIVATE_SHM is set, but /dev/shm is "
                                                "not the script's huge=advise mount";
  return true;
}

// shmem_enabled's emergency settings override every mount: deny (none anywhere), force (huge
// pages for all shared memory, asked or not).
std::string shmem_override() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  const std::string mode{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  if (mode.find("[deny]") != std::string::npos) return "deny";
  if (mode.find("[force]") != std::string::npos) return "force";
  return "";
}

// Where the mount allows huge pages on advice, a ring asking for them gets them — in the
// creator's mapping and in an attacher's — and one not asking gets none. (Before the creator
// sized the object without allocating it, Boost's truncate had allocated every page as a 4 KiB
// one before the advice, and none were granted: exactly 0.) How many is the kernel's to decide
// (a fragmented memory may grant fewer): recorded, and asserted only to be some.
TEST(SegmentOnPrivateShm, HugePagesAreGrantedWhereTheMountAllowsThem) {
  if (!on_private_huge_shm()) GTEST_SKIP() << "runs under tests/shm/private_shm.sh only";
  if (const std::string o = shmem_override(); !o.empty())
    GTEST_SKIP() << "shmem_enabled is [" << o << "]: it overrides the mount";
  RingName name("hugeok");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 8 << 20;
  cfg.max_producers = cfg.max_readers = 4;
  cfg.huge_pages = true;
  auto created = Segment::create(cfg);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->huge_page_bytes(), 0u);
  RecordProperty("creator_huge_bytes", std::to_string(created->huge_page_bytes()));
  auto other = Segment::attach(name);
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_GT(other->huge_page_bytes(), 0u);
  RecordProperty("attacher_huge_bytes", std::to_string(other->huge_page_bytes()));
  // Still one ring: a byte written through one mapping is read through the other, at the end of
  // the data and across the wrap.
  *created->data(cfg.capacity - 1) = std::byte{0x5A};
  *created->data(0) = std::byte{0x11};
  EXPECT_EQ(other->data(cfg.capacity - 1)[0], std::byte{0x5A});
  EXPECT_EQ(other->data(cfg.capacity - 1)[1], std::byte{0x11});
  // A ring that does not ask gets 4 KiB pages on the same mount (advice, not always).
  RingName plain("hugeno");
  cfg.name = plain;
  cfg.huge_pages = false;
  auto small = Segment::create(cfg);
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->huge_page_bytes(), 0u);
}

// A /dev/shm too small for the ring is an error from create() — never a SIGBUS at a first touch
// — and leaves no object behind, with or without huge pages, pre-faulted or not.
TEST(SegmentOnPrivateShm, AFullShmIsAnErrorAndLeavesNothingBehind) {
  if (!on_private_huge_shm()) GTEST_SKIP() << "runs under tests/shm/private_shm.sh only";
  for (const bool huge : {true, false}) {
    for (const bool populate : {true, false}) {
      SCOPED_TRACE(std::string("huge_pages=") + (huge ? "true" : "false") +
                   " populate=" + (populate ? "true" : "false"));
      RingName name("full");
      RingConfig cfg;
      cfg.name = name;
      cfg.capacity = 64 << 20;  // more than the 48 MiB mount
      cfg.huge_pages = huge;
      cfg.populate = populate;
      auto created = Segment::create(cfg);
      ASSERT_FALSE(created);
      EXPECT_EQ(created.error().code, Errc::system_error);
      EXPECT_NE(created.error().message.find(std::strerror(ENOSPC)), std::string::npos)
          << created.error().message;
      struct stat st {};
      EXPECT_NE(::stat(shm_path(name).c_str(), &st), 0) << "the object was left behind";
      // The space is back: a ring that fits can be created.
      RingName fits("fits");
      cfg.name = fits;
      cfg.capacity = 8 << 20;
      cfg.max_producers = cfg.max_readers = 4;
      auto ok = Segment::create(cfg);
      EXPECT_TRUE(ok) << ok.error().message;
    }
  }
}

TEST(Segment, CreateRefusesAnExistingName) {
  RingName name("dup");
  auto a = test::make_ring(name);
  RingConfig cfg;
  cfg.name = name;
  auto b = Segment::create(cfg);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::already_exists);
}

TEST(Segment, CreateValidatesItsConfiguration) {
  RingName name("cfg");
  auto bad = [&](auto mutate) {
    RingConfig cfg;
    cfg.name = name;
    cfg.capacity = 1 << 16;
    mutate(cfg);
    auto s = Segment::create(cfg);
    EXPECT_FALSE(s);
    if (!s) {
      EXPECT_EQ(s.error().code, Errc::invalid_argument) << s.error().message;
    }
  };
  bad([](RingConfig& c) { c.capacity = 100000; });           // not a power of two
  bad([](RingConfig& c) { c.capacity = 1 << 12; });          // below 64 KiB
  bad([](RingConfig& c) { c.max_record = (1 << 14) + 1; });  // above capacity / 4
  bad([](RingConfig& c) { c.max_producers = 0; });
  bad([](RingConfig& c) { c.max_readers = 2000; });
  bad([](RingConfig& c) { c.mode = 0400; });
  bad([](RingConfig& c) { c.fenced_commits = true; });  // without exclusive_producer
  bad([](RingConfig& c) { c.name = "has/slash"; });
  bad([](RingConfig& c) { c.name = ""; });
  bad([](RingConfig& c) { c.dead_check_interval = std::chrono::milliseconds(0); });
  EXPECT_FALSE(std::ifstream(shm_path(name)).good()) << "a refused create left an object behind";
}

TEST(Segment, AttachToAMissingRingSaysSo) {
  auto s = Segment::attach("no-such-ring-" + std::to_string(::getpid()));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::not_found);
  EXPECT_NE(s.error().message.find("shm-inspect list"), std::string::npos) << s.error().message;
}

struct Refusal {
  const char* what;
  std::size_t offset;
  std::uint64_t value;
  std::size_t width;
  Errc expected;
};

class AttachRefuses : public ::testing::TestWithParam<Refusal> {};

TEST_P(AttachRefuses, AndChangesNothing) {
  const Refusal r = GetParam();
  RingName name(std::string("refuse-") + r.what);
  { auto s = test::make_ring(name, 1 << 16); }
  poke(name, r.offset, &r.value, r.width);
  const auto before = file_bytes(shm_path(name));
  auto s = Segment::attach(name);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, r.expected) << s.error().message;
  auto ro = Segment::attach(name, AttachMode::read_only);
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code, r.expected);
  EXPECT_EQ(file_bytes(shm_path(name)), before);
}

INSTANTIATE_TEST_SUITE_P(
    Header, AttachRefuses,
    ::testing::Values(Refusal{"magic", 0, 0x1122334455667788ULL, 8, Errc::foreign_segment},
                      Refusal{"version", 8, 99, 4, Errc::version_mismatch},
                      Refusal{"state", 12, 0, 4, Errc::not_ready},
                      Refusal{"capacity", 16, 1 << 17, 8, Errc::size_mismatch},
                      Refusal{"odd-capacity", 16, 12345, 8, Errc::size_mismatch},
                      Refusal{"max-record", 24, 1 << 20, 4, Errc::size_mismatch},
                      Refusal{"segment-bytes", 56, 4096, 8, Errc::size_mismatch},
                      // (since 2026-12-05: the dead-check interval, as create() bounds it)
                      Refusal{"dead-check-zero", 72, 0, 8, Errc::size_mismatch},
                      Refusal{"dead-check-huge", 72, 61000ULL * 1000000ULL, 8, Errc::size_mismatch},
                      Refusal{"unknown-flag", 80, 0x100, 4, Errc::size_mismatch},
                      // fenced commits (4) without a ring made for one producer (2)
                      Refusal{"fenced-without-exclusive", 80, 4, 4, Errc::size_mismatch}),
    [](const auto& param_info) {
      std::string n = param_info.param.what;
      for (char& c : n)
        if (c == '-') c = '_';
      return n;
    });

// The geometry an attach validated is what it goes by: header words damaged after it (a writer of
// the ring maps them writable) change nothing it does. Before 2026-12-05 they were read from the
// header at each use: slot loops past the slot arrays (max_producers 0xFFFF), a claim past the
// capacity (max_record), waiters that never looked at producers' liveness (dead-check 0).
TEST(Segment, TheGeometryAnAttachValidatedIsKeptWhateverTheHeaderSaysLater) {
  RingName name("geometry-kept");
  auto created = test::make_ring(name, 1 << 16);
  auto s = Segment::attach(name).value();
  const std::uint32_t max_record = s.max_record();
  const std::uint16_t producers = s.max_producers(), readers = s.max_readers();
  const std::uint64_t interval = s.dead_check_interval_ns();
  const bool exclusive = s.exclusive_producer();
  const std::uint32_t huge_record = 0xFFFF'FF00u;
  const std::uint16_t many = 0xFFFF;
  const std::uint64_t zero = 0;
  const std::uint32_t all_flags = 0xFFFF'FFFFu;
  poke(name, 24, &huge_record, 4);
  poke(name, 28, &many, 2);
  poke(name, 30, &many, 2);
  poke(name, 72, &zero, 8);
  poke(name, 80, &all_flags, 4);
  ASSERT_EQ(created.header().max_producers, 0xFFFF) << "the header was not damaged";
  for (const Segment* seg : {&created, &s}) {
    EXPECT_EQ(seg->max_record(), max_record);
    EXPECT_EQ(seg->max_producers(), producers);
    EXPECT_EQ(seg->max_readers(), readers);
    EXPECT_EQ(seg->dead_check_interval_ns(), interval);
    EXPECT_EQ(seg->exclusive_producer(), exclusive);
  }
  auto w = RingWriter::attach(s, {.label = "w", .core = -1}).value();
  std::vector<std::byte> big(std::size_t{1} << 17);
  EXPECT_EQ(w.publish(1, big), PublishStatus::too_large) << "a claim past the capacity";
  auto reader = RingReader::attach(s).value();
  std::vector<std::byte> small(100);
  ASSERT_EQ(w.publish(1, small), PublishStatus::ok);
  EXPECT_EQ(reader.poll([](const RecordView&) {}), 1u);
  EXPECT_EQ(core::resolve_stall(s), core::StallOutcome::nothing_in_flight);
  EXPECT_FALSE(Segment::attach(name)) << "a new attach refuses the damaged header";
}

// A ring of another layout version is refused, but who created it can still be read, so that a
// supervisor does not remove a ring another build's running cluster uses.
TEST(Segment, TheCreatorOfARingOfAnotherVersionCanStillBeRead) {
  RingName name("creator");
  { auto s = test::make_ring(name, 1 << 16); }
  const std::uint32_t version = 99;
  poke(name, 8, &version, 4);
  auto s = Segment::attach(name, AttachMode::read_only);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::version_mismatch);
  auto who = Segment::creator(name);
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who.value(), self_identity());

  RingName foreign("creator-foreign");
  {
    std::ofstream f(shm_path(foreign), std::ios::binary);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>(i * 7));
  }
  auto none = Segment::creator(foreign);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Errc::foreign_segment);
  // A header not written yet (create() writes the creator right after creating the object): a
  // moment old, the ring is being created — not a stale one to remove.
  RingName fresh("creator-fresh");
  {
    std::ofstream f(shm_path(fresh), std::ios::binary);
    f << std::string(4096, '\0');
  }
  auto creating = Segment::creator(fresh);
  ASSERT_FALSE(creating);
  EXPECT_EQ(creating.error().code, Errc::not_ready) << creating.error().message;
  RingName dir("creator-dir");  // not a file at all
  ASSERT_EQ(::mkdir(shm_path(dir).c_str(), 0700), 0);
  auto odd = Segment::creator(dir);
  ::rmdir(shm_path(dir).c_str());
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, Errc::foreign_segment) << odd.error().message;
  RingName missing("creator-missing");
  EXPECT_EQ(Segment::creator(missing).error().code, Errc::not_found);
}

// What is not a file under a ring's name — a FIFO, a symbolic link, a directory — is refused at
// once as foreign in every mode, without blocking (a FIFO's open held the opener for ever): the
// object is opened once, without blocking or following a link, and that descriptor is checked and
// mapped (since 2026-12-05; before, a first open looked and a second, blocking one mapped, and a
// FIFO renamed over the name between the two held the second).
TEST(Segment, AttachRefusesWhatIsNotAFileInEveryMode) {
  RingName ring("odd-target");
  { auto s = test::make_ring(ring, 1 << 16); }
  RingName fifo("odd-fifo"), link("odd-link"), dir("odd-dir");
  ASSERT_EQ(::mkfifo(shm_path(fifo).c_str(), 0600), 0);
  ASSERT_EQ(::symlink(shm_path(ring).c_str(), shm_path(link).c_str()), 0);
  ASSERT_EQ(::mkdir(shm_path(dir).c_str(), 0700), 0);
  for (const AttachMode mode :
       {AttachMode::read_only, AttachMode::read_write_lazy, AttachMode::read_write})
    for (const std::string& name : {fifo.str(), link.str(), dir.str()}) {
      auto s = Segment::attach(name, mode);
      ASSERT_FALSE(s) << name;
      EXPECT_EQ(s.error().code, Errc::foreign_segment) << name << ": " << s.error().message;
    }
  ::unlink(shm_path(fifo).c_str());
  ::unlink(shm_path(link).c_str());
  ::rmdir(shm_path(dir).c_str());
}

TEST(Segment, AttachRefusesATruncatedObject) {
  RingName name("trunc");
  { auto s = test::make_ring(name, 1 << 16); }
  ASSERT_EQ(::truncate(shm_path(name).c_str(), 8192), 0);
  auto s = Segment::attach(name);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::size_mismatch);
}

TEST(Segment, AttachRefusesAForeignObject) {
  RingName name("foreign");
  {
    std::ofstream f(shm_path(name), std::ios::binary);
    for (int i = 0; i < 8192; ++i) f.put(static_cast<char>(i * 7));
  }
  const auto before = file_bytes(shm_path(name));
  auto s = Segment::attach(name);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::foreign_segment);
  EXPECT_EQ(file_bytes(shm_path(name)), before);
  // And a tiny one.
  ASSERT_EQ(::truncate(shm_path(name).c_str(), 10), 0);
  auto t = Segment::attach(name);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::size_mismatch);
}

TEST(Segment, AttachWithoutPermissionIsRefusedClearly) {
  if (::geteuid() == 0) {
    // root bypasses file permissions; check the refusal as an unprivileged child instead.
    RingName name("perm");
    { auto s = test::make_ring(name, 1 << 16); }
    pid_t pid = test::spawn([&] {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 3;
      auto s = Segment::attach(name);
      if (s) return 1;
      return s.error().code == Errc::permission_denied ? 0 : 2;
    });
    EXPECT_EQ(test::join(pid), 0);
    return;
  }
  RingName name("perm");
  { auto s = test::make_ring(name, 1 << 16); }
  ASSERT_EQ(::chmod(shm_path(name).c_str(), 0), 0);
  auto s = Segment::attach(name);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Errc::permission_denied);
}

// A ring of another user that every user may write (planted under a name that can be foreseen:
// /dev/shm is writable by all) is not taken to write into; read only (shm-inspect) it is, and one
// shared with a group (0660) is taken. Since 2026-12-05 (found by a review).
TEST(Segment, AnotherUsersRingOpenToAllIsNotTakenToWriteInto) {
  if (::geteuid() != 0) GTEST_SKIP() << "making another user's file takes root";
  RingName name("planted");
  { auto s = test::make_ring(name, 1 << 16); }
  ASSERT_EQ(::chown(shm_path(name).c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(shm_path(name).c_str(), 0666), 0);
  auto rw = Segment::attach(name);
  ASSERT_FALSE(rw);
  EXPECT_EQ(rw.error().code, Errc::permission_denied);
  EXPECT_NE(rw.error().message.find("belongs to uid 65534"), std::string::npos)
      << rw.error().message;
  EXPECT_TRUE(Segment::attach(name, AttachMode::read_only));
  ASSERT_EQ(::chmod(shm_path(name).c_str(), 0660), 0);
  EXPECT_TRUE(Segment::attach(name)) << "a ring shared with a group";
}

TEST(Segment, ReadOnlyAttachCannotTakeSlotsOrPublish) {
  RingName name("ro");
  auto rw = test::make_ring(name, 1 << 16);
  auto ro = Segment::attach(name, AttachMode::read_only);
  ASSERT_TRUE(ro) << ro.error().message;
  EXPECT_FALSE(ro->writable());
  auto w = RingWriter::attach(*ro);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::permission_denied);
  auto r = RingReader::attach(*ro);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::permission_denied);
}

// A writable attach touches one byte of every page of the ring in the attaching process (a locked
// OR of zero; docs/ring.md, "Page faults: none on the hot path"). That must change no byte of a
// ring in use — the payloads, the metadata, a record across the end into the mirror — in any mode.
TEST(Segment, AttachingChangesNoByteOfARingInUse) {
  RingName name("touch");
  auto s = test::make_ring(name, 1 << 16);
  {
    auto w = RingWriter::attach(s);
    ASSERT_TRUE(w) << w.error().message;
    // Non-zero bytes everywhere (a touch that wrote zeros would show), until the ring has wrapped.
    std::vector<std::byte> buf(1000);
    std::uint64_t position = 0;
    for (std::uint64_t seq = 0; position < s.capacity() + 4096; ++seq) {
      const std::size_t n = 300 + seq * 37 % 700;
      test::CheckedRecord::fill({buf.data(), n}, 7, seq);
      for (std::size_t i = test::CheckedRecord::kHeader; i < n; ++i) buf[i] |= std::byte{1};
      ASSERT_EQ(w->publish(1, {buf.data(), n}, &position), PublishStatus::ok);
    }
  }
  const auto before = file_bytes(shm_path(name));
  for (const AttachMode mode :
       {AttachMode::read_write, AttachMode::read_write_lazy, AttachMode::read_only}) {
    auto a = Segment::attach(name, mode);
    ASSERT_TRUE(a) << a.error().message;
    EXPECT_EQ(a->writable(), mode != AttachMode::read_only);
  }
  EXPECT_EQ(file_bytes(shm_path(name)), before);
}

// The same while a producer writes and a reader reads: every record the reader gets is intact and
// in order while attaches touch the pages under them. (It catches a touch that stores other values;
// one that read a byte and wrote it back without a locked instruction could lose a store made in
// between, a window too narrow for this test to hit: that rests on the locked OR.)
TEST(Segment, AttachingWhileAProducerWritesLosesNoneOfItsBytes) {
  RingName name("touch-live");
  auto s = test::make_ring(name, 1 << 20);
  auto w = RingWriter::attach(s);
  ASSERT_TRUE(w) << w.error().message;
  auto r = RingReader::attach(s);
  ASSERT_TRUE(r) << r.error().message;
  // The producer goes on until the main thread has attached kAttaches times, so that every attach
  // overlaps its writing; `stop` ends it early if an attach fails.
  constexpr std::uint64_t kRecords = 20'000;
  constexpr int kAttaches = 8;
  std::atomic<int> attaches{0};
  std::atomic<bool> stop{false}, done{false};
  std::uint64_t published = 0;
  std::thread producer([&] {
    std::vector<std::byte> buf(256);
    for (std::uint64_t seq = 0;
         !stop.load(std::memory_order_relaxed) &&
         (seq < kRecords || attaches.load(std::memory_order_relaxed) < kAttaches);
         ++seq) {
      const std::size_t n = test::CheckedRecord::kHeader + seq % 200;
      test::CheckedRecord::fill({buf.data(), n}, 1, seq);
      if (w->publish(1, {buf.data(), n}) != PublishStatus::ok) break;
      ++published;
    }
    done.store(true, std::memory_order_release);
  });
  std::uint64_t got = 0, bad = 0, last = 0;
  bool reached_tail = false;
  std::thread reader([&] {
    // Bounded: a reader that never reaches the tail fails the test instead of hanging it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const bool finished = done.load(std::memory_order_acquire);
      const std::size_t n = r->poll([&](const RecordView& v) {
        const std::uint64_t seq = test::CheckedRecord::seq(v.payload);
        bad += !test::CheckedRecord::valid(v.payload) || (got > 0 && seq <= last);
        last = seq;
        ++got;
      });
      if (n == 0 && finished && r->position() == s.control().tail.tail.load()) {
        reached_tail = true;
        return;
      }
    }
  });
  while (!done.load(std::memory_order_acquire)) {
    auto a = Segment::attach(name);
    if (!a) {
      ADD_FAILURE() << a.error().message;
      stop.store(true);
      break;
    }
    attaches.fetch_add(1, std::memory_order_relaxed);
  }
  producer.join();
  reader.join();
  EXPECT_GE(attaches.load(), kAttaches);
  EXPECT_TRUE(reached_tail);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(got + r->total_loss().records, published);
  EXPECT_GT(got, 0u);
}

// Which attaches fault the ring in: a read_write attach has all of the ring resident in its
// mapping (pre-faulted and touched); a lazy or read-only one only the pages it used.
TEST(Segment, OnlyAReadWriteAttachFaultsTheRingIn) {
  RingName name("resident");
  constexpr std::uint64_t kCapacity = 4 << 20;
  auto s = test::make_ring(name, kCapacity);
  for (const AttachMode mode :
       {AttachMode::read_write, AttachMode::read_write_lazy, AttachMode::read_only}) {
    auto a = Segment::attach(name, mode);
    ASSERT_TRUE(a) << a.error().message;
    const std::uint64_t resident = a->resident_bytes();
    if (mode == AttachMode::read_write) {
      EXPECT_GE(resident, kCapacity);
    } else {
      EXPECT_LT(resident, kCapacity / 4) << "mode " << static_cast<int>(mode);
    }
  }
}

// An attach that is writable but not pre-faulted (shmio-emit's) publishes like any other.
TEST(Segment, ALazyWritableAttachPublishes) {
  RingName name("lazy");
  auto s = test::make_ring(name, 1 << 16);
  auto r = RingReader::attach(s);
  ASSERT_TRUE(r) << r.error().message;
  auto lazy = Segment::attach(name, AttachMode::read_write_lazy);
  ASSERT_TRUE(lazy) << lazy.error().message;
  EXPECT_TRUE(lazy->writable());
  auto w = RingWriter::attach(*lazy);
  ASSERT_TRUE(w) << w.error().message;
  const std::string text = "from a lazy attach";
  ASSERT_EQ(w->publish(3, {reinterpret_cast<const std::byte*>(text.data()), text.size()}),
            PublishStatus::ok);
  std::string seen;
  EXPECT_EQ(r->poll([&](const RecordView& v) {
    seen.assign(reinterpret_cast<const char*>(v.payload.data()), v.payload.size());
  }),
            1u);
  EXPECT_EQ(seen, text);
}

TEST(Segment, ListShowsTheRing) {
  RingName name("list");
  auto s = test::make_ring(name, 1 << 16);
  bool found = false;
  for (const auto& info : Segment::list()) found |= info.name == name.str();
  EXPECT_TRUE(found);
}

TEST(Segment, SlotsRunOutWithAClearErrorAndComeBack) {
  RingName name("slots");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  cfg.max_producers = 2;
  cfg.max_readers = 1;
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s);
  auto w1 = RingWriter::attach(*s);
  auto w2 = RingWriter::attach(*s);
  ASSERT_TRUE(w1 && w2);
  auto w3 = RingWriter::attach(*s);
  ASSERT_FALSE(w3);
  EXPECT_EQ(w3.error().code, Errc::no_free_slot);
  { auto gone = std::move(w1).value(); }  // releases its slot
  EXPECT_TRUE(RingWriter::attach(*s));
  auto r1 = RingReader::attach(*s);
  ASSERT_TRUE(r1);
  EXPECT_FALSE(RingReader::attach(*s));
}

TEST(Segment, DeadReadersSlotsAreReclaimed) {
  RingName name("deadreader");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  cfg.max_readers = 1;
  auto s = Segment::create(cfg);
  ASSERT_TRUE(s);
  pid_t pid = test::spawn([&] {
    auto seg = Segment::attach(name);
    auto r = RingReader::attach(*seg);
    if (!r) return 1;
    ::kill(::getpid(), SIGKILL);  // dies holding the slot
    return 2;
  });
  EXPECT_EQ(test::join(pid), 128 + SIGKILL);
  EXPECT_EQ(s->reader_slot(0).state.load(), layout::kSlotActive);
  auto r = RingReader::attach(*s);
  EXPECT_TRUE(r) << "the dead reader's slot should be reused";
}

// In a child whose descriptor limit lets it open `left` more files: with one, shm_open succeeds
// and a dup() after it fails (EMFILE); with none, the open fails. Returns the child's exit code: 0
// if `fn` returned true.
int with_descriptors_left(int left, const std::function<bool()>& fn) {
  return test::join(test::spawn([&] {
    const int lowest_free = ::dup(0);
    if (lowest_free < 0) return 2;
    ::close(lowest_free);
    struct rlimit lim {};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 3;
    lim.rlim_cur = static_cast<rlim_t>(lowest_free) + static_cast<rlim_t>(left);
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return 4;
    return fn() ? 0 : 1;
  }));
}

// An attach that fails (out of descriptors: since 2026-12-05 attach opens the object once and
// maps that descriptor, no dup() after a first open) leaves the ring alone: attach refuses,
// modifying nothing — above all, it never removes the ring.
TEST(Segment, AnAttachOutOfDescriptorsLeavesTheRingAlone) {
  RingName name("nofd");
  RingConfig cfg;
  cfg.name = name;
  cfg.capacity = 1 << 16;
  auto created = Segment::create(cfg);
  ASSERT_TRUE(created) << created.error().message;
  const auto before = file_bytes(shm_path(name));
  EXPECT_EQ(with_descriptors_left(0,
                                  [&] {
                                    auto s = Segment::attach(name);
                                    return !s && s.error().message.find("opening shared memory") !=
                                                     std::string::npos;
                                  }),
            0);
  EXPECT_EQ(with_descriptors_left(1, [&] { return Segment::attach(name).has_value(); }), 0)
      << "one descriptor is all an attach takes";
  struct stat st {};
  ASSERT_EQ(::stat(shm_path(name).c_str(), &st), 0) << "the failed attach removed the ring";
  EXPECT_EQ(file_bytes(shm_path(name)), before);
  auto again = Segment::attach(name);
  EXPECT_TRUE(again) << again.error().message;
}

// A create that fails after making its object (out of descriptors) removes that object, so the
// name is free again.
TEST(Segment, ACreateOutOfDescriptorsLeavesNothingBehind) {
  for (const bool huge : {false, true}) {
    SCOPED_TRACE(huge ? "huge_pages" : "4 KiB pages");
    RingName name("nofdc");
    RingConfig cfg;
    cfg.name = name;
    cfg.capacity = 1 << 16;
    cfg.huge_pages = huge;
    EXPECT_EQ(with_descriptors_left(1,
                                    [&] {
                                      auto s = Segment::create(cfg);
                                      return !s &&
                                             s.error().message.find("dup of") != std::string::npos;
                                    }),
              0);
    struct stat st {};
    EXPECT_NE(::stat(shm_path(name).c_str(), &st), 0) << "the failed create left its object";
    auto ok = Segment::create(cfg);
    EXPECT_TRUE(ok) << ok.error().message;
  }
}

}  // namespace
}  // namespace shmio::shm
