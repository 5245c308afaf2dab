// ring-demo: a small driver for a shmio ring, for demos and for the shm-inspect CLI test.
//
//   ring-demo create  --name N [--capacity BYTES] [--exclusive]
//   ring-demo produce --name N --count K --size S [--rate R] [--label L]
//   ring-demo consume --name N --count K [--label L] [--timeout-ms T]
//   ring-demo remove  --name N
//
// produce publishes K records of type 1 and S payload bytes each: an 8-byte little-endian
// sequence number (0, 1, 2, ...) followed by S - 8 copies of the sequence number's low byte. R
// records per second, 0 (the default) as fast as possible.
//
// consume reads from the oldest record still in the ring until it has K records (records lost
// to laps count towards K), checking every
// type-1 payload: sequence numbers increase per producer id (a sequence restarting at 0 is a new
// producer in a reused slot), and the filler bytes match. It prints
// "consumed K records, lost L records" and exits 0, or exits 2 on timeout, 3 on a bad payload.

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shmio/shm/process.hpp"
#include "shmio/shm/result.hpp"
#include "shmio/shm/ring_reader.hpp"
#include "shmio/shm/ring_writer.hpp"
#include "shmio/shm/segment.hpp"

namespace {

namespace shm = shmio::shm;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;  // usage or set-up error
constexpr int kExitTimeout = 2;
constexpr int kExitBadPayload = 3;

constexpr std::uint16_t kRecordType = 1;
constexpr std::size_t kSeqBytes = 8;

constexpr const char* kUsage = R"(Usage:
  ring-demo create  --name N [--capacity BYTES] [--exclusive]   (default 1048576; --exclusive:
                                                      a ring made for one producer at a time)
  ring-demo produce --name N --count K --size S [--rate R] [--label L]
  ring-demo consume --name N --count K [--label L] [--timeout-ms T]   (default 10000, at most 86400000)
  ring-demo remove  --name N
)";

int Fail(const std::string& message) {
  std::fprintf(stderr, "ring-demo: %s\n", message.c_str());
  return kExitError;
}

struct Args {
  std::string command;
  std::string name;
  std::string label;
  std::uint64_t capacity = 1 << 20;
  std::uint64_t count = 0;
  std::uint64_t size = 0;
  std::uint64_t rate = 0;
  std::uint64_t timeout_ms = 10000;
  bool exclusive = false;  // create: RingConfig::exclusive_producer
  bool help = false;       // --help or -h where an option may be
};

bool ParseNumber(std::string_view text, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Which options each command takes (an option another command takes is refused, not ignored:
// before 2026-12-07 `ring-demo remove --name r --count 5` removed the ring without a word).
struct CommandOptions {
  std::string_view command;
  std::string_view options;  // " --name --count ... " (each with a space either side)
};
constexpr CommandOptions kCommands[] = {
    {"create", " --name --capacity --exclusive "},
    {"produce", " --name --label --count --size --rate "},
    {"consume", " --name --label --count --timeout-ms "},
    {"remove", " --name "},
};

// Whether `options` (" --a --b ") names `opt` whole.
bool Takes(std::string_view options, std::string_view opt) {
  if (opt.size() < 3 || opt.find(' ') != std::string_view::npos) return false;
  for (std::size_t at = options.find(opt); at != std::string_view::npos;
       at = options.find(opt, at + 1))
    if (options[at - 1] == ' ' && options[at + opt.size()] == ' ') return true;
  return false;
}

// Returns an empty string on success, else what was wrong.
std::string ParseArgs(int argc, char** argv, Args& a) {
  if (argc < 2) return "missing command";
  a.command = argv[1];
  std::string_view takes;
  for (const CommandOptions& c : kCommands)
    if (c.command == a.command) takes = c.options;
  if (takes.empty()) return "unknown command '" + a.command + "'";
  for (int i = 2; i < argc; ++i) {
    const std::string_view opt = argv[i];
    if (opt == "--help" || opt == "-h") {  // (where an option may be: after the command too)
      a.help = true;
      continue;
    }
    constexpr std::string_view kAll =
        " --name --label --capacity --count --size --rate --timeout-ms --exclusive ";
    if (!Takes(kAll, opt)) return "unknown option " + std::string(opt);
    if (!Takes(takes, opt)) return a.command + " takes no " + std::string(opt);
    if (opt == "--exclusive") {  // (the one option without a value)
      a.exclusive = true;
      continue;
    }
    if (i + 1 >= argc) return "option " + std::string(opt) + " needs a value";
    const std::string_view value = argv[++i];
    // (A value that is one of the options is the value left out: `--name --count 5` named no
    // ring "--count". Another value that starts with "--" is taken.)
    if (Takes(kAll, value) || value == "--help" || value == "-h")
      return "option " + std::string(opt) + " needs a value (" + std::string(value) +
             " is an option)";
    bool ok = true;
    if (opt == "--name") {
      a.name = value;
    } else if (opt == "--label") {
      a.label = value;
    } else if (opt == "--capacity") {
      ok = ParseNumber(value, a.capacity);
    } else if (opt == "--count") {
      ok = ParseNumber(value, a.count);
    } else if (opt == "--size") {
      ok = ParseNumber(value, a.size);
    } else if (opt == "--rate") {
      ok = ParseNumber(value, a.rate) && a.rate <= 1'000'000'000;  // (a record a nanosecond)
    } else {
      // (--timeout-ms)
      // (At most a day: the deadline is counted in nanoseconds, and a larger one wrapped, timing
      // out at once.)
      ok = ParseNumber(value, a.timeout_ms) && a.timeout_ms <= 86'400'000;
    }
    if (!ok) return "bad number for " + std::string(opt) + ": " + std::string(value);
  }
  if (a.help) return {};
  if (a.name.empty()) return "--name is required";
  return {};
}

int Create(const Args& a) {
  shm::RingConfig config;
  config.name = a.name;
  config.capacity = a.capacity;
  config.exclusive_producer = a.exclusive;
  auto seg = shm::Segment::create(config);
  if (!seg) return Fail(seg.error().message);
  std::printf("created ring %s, capacity %llu%s\n", a.name.c_str(),
              static_cast<unsigned long long>(a.capacity),
              a.exclusive ? ", for one producer at a time" : "");
  return kExitOk;
}

int Produce(const Args& a) {
  if (a.count == 0) return Fail("--count must be at least 1");
  if (a.size < kSeqBytes) return Fail("--size must be at least 8 (the sequence number)");
  auto seg = shm::Segment::attach(a.name);
  if (!seg) return Fail(seg.error().message);
  if (a.size > seg->max_record())
    return Fail("--size is larger than the ring's max_record (" +
                std::to_string(seg->max_record()) + ")");
  auto writer = shm::RingWriter::attach(*seg, shm::WriterOptions{a.label, -1});
  if (!writer) return Fail(writer.error().message);

  std::vector<std::byte> payload(a.size);
  const std::uint64_t start = shm::monotonic_ns();
  for (std::uint64_t seq = 0; seq < a.count; ++seq) {
    if (a.rate != 0) {
      // Absolute deadlines, so the average rate holds even when one sleep overshoots.
      // (Whole seconds and the rest apart: seq * 10^9 wrapped past some 1.8e10 records.)
      const std::uint64_t due =
          start + seq / a.rate * 1'000'000'000ULL + seq % a.rate * 1'000'000'000ULL / a.rate;
      const timespec ts{static_cast<std::time_t>(due / 1'000'000'000ULL),
                        static_cast<long>(due % 1'000'000'000ULL)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
      }
    }
    for (std::size_t b = 0; b < kSeqBytes; ++b)
      payload[b] = static_cast<std::byte>((seq >> (8 * b)) & 0xFF);
    std::fill(payload.begin() + kSeqBytes, payload.end(), static_cast<std::byte>(seq & 0xFF));
    const shm::PublishStatus st = writer->publish(kRecordType, payload);
    if (st != shm::PublishStatus::ok) return Fail(std::string("publish: ") + shm::to_string(st));
  }
  std::printf("produced %llu records of %llu bytes\n", static_cast<unsigned long long>(a.count),
              static_cast<unsigned long long>(a.size));
  return kExitOk;
}

// Checks one type-1 payload against the last sequence number seen from its producer.
bool Verify(const shm::RecordView& r, std::map<std::uint16_t, std::uint64_t>& last_seq,
            std::string& why) {
  if (r.payload.size() < kSeqBytes) {
    why = "payload of " + std::to_string(r.payload.size()) + " bytes has no sequence number";
    return false;
  }
  std::uint64_t seq = 0;
  for (std::size_t b = 0; b < kSeqBytes; ++b)
    seq |= static_cast<std::uint64_t>(r.payload[b]) << (8 * b);
  const auto filler = static_cast<std::byte>(seq & 0xFF);
  for (std::size_t b = kSeqBytes; b < r.payload.size(); ++b) {
    if (r.payload[b] != filler) {
      why = "record at " + std::to_string(r.position) + ": payload byte " + std::to_string(b) +
            " does not match its sequence number " + std::to_string(seq);
      return false;
    }
  }
  const auto it = last_seq.find(r.producer);
  if (it != last_seq.end() && seq != 0 && seq <= it->second) {
    why = "record at " + std::to_string(r.position) + ": producer " + std::to_string(r.producer) +
          " sequence " + std::to_string(seq) + " after " + std::to_string(it->second);
    return false;
  }
  last_seq[r.producer] = seq;
  return true;
}

int Consume(const Args& a) {
  if (a.count == 0) return Fail("--count must be at least 1");
  auto seg = shm::Segment::attach(a.name);
  if (!seg) return Fail(seg.error().message);
  shm::ReaderOptions options;
  options.label = a.label;
  options.start = shm::StartAt::oldest;
  auto reader = shm::RingReader::attach(*seg, options);
  if (!reader) return Fail(reader.error().message);

  const std::uint64_t deadline = shm::monotonic_ns() + a.timeout_ms * 1'000'000ULL;
  std::map<std::uint16_t, std::uint64_t> last_seq;
  std::uint64_t got = 0;
  std::string why;
  bool bad = false;
  // Records lost to laps count towards the total: a lapped consumer still finishes.
  while (got + reader->total_loss().records < a.count && !bad) {
    const std::uint64_t now = shm::monotonic_ns();
    if (now >= deadline) break;
    if (!reader->wait(std::chrono::nanoseconds(deadline - now))) continue;
    reader->poll(
        [&](const shm::RecordView& r) {
          if (bad || got >= a.count) return;  // the batch may run past what we want
          ++got;
          if (r.type == kRecordType && !Verify(r, last_seq, why)) bad = true;
        },
        static_cast<std::size_t>(std::min<std::uint64_t>(a.count - got, 256)));
  }
  const shm::LossReport lost = reader->total_loss();
  std::printf("consumed %llu records, lost %llu records\n", static_cast<unsigned long long>(got),
              static_cast<unsigned long long>(lost.records));
  if (bad) {
    std::fprintf(stderr, "ring-demo: verification failed: %s\n", why.c_str());
    return kExitBadPayload;
  }
  if (got + lost.records < a.count) {
    std::fprintf(stderr, "ring-demo: timed out after %llu ms with %llu of %llu records\n",
                 static_cast<unsigned long long>(a.timeout_ms),
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(a.count));
    return kExitTimeout;
  }
  return kExitOk;
}

int Remove(const Args& a) {
  if (auto ok = shm::Segment::remove(a.name); !ok) return Fail(ok.error().message);
  std::printf("removed ring %s\n", a.name.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  Args a;
  if (const std::string err = ParseArgs(argc, argv, a); !err.empty()) {
    std::fprintf(stderr, "ring-demo: %s\n%s", err.c_str(), kUsage);
    return kExitError;
  }
  // (After the command too: before 2026-12-07 `ring-demo produce --help` was an error.)
  if (a.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (a.command == "create") return Create(a);
  if (a.command == "produce") return Produce(a);
  if (a.command == "consume") return Consume(a);
  return Remove(a);  // (ParseArgs refused every other command)
}
