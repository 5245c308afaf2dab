// The server's deadlines (heartbeats, upgrade and linger timeouts): one indexed binary min-heap
// per server, armed by one timer at its earliest entry (docs/server.md, "Memory per connection").
// Each item knows its slot in the heap (T::deadline_slot), so moving or removing its entry is
// O(log n) with no search and no node of its own: 16 bytes per entry in one array, where a
// std::multimap took a 64-byte node per session plus an iterator in it.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace shmio::engineio::detail {

// T has a member `std::size_t deadline_slot` initialised to DeadlineHeap<T, Time>::npos; the heap
// owns it while the item is in the heap.
template <class T, class Time>
class DeadlineHeap {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  bool empty() const noexcept { return h_.empty(); }
  std::size_t size() const noexcept { return h_.size(); }
  // The earliest entry (the heap is not empty).
  Time top_time() const noexcept { return h_.front().when; }
  T* top() const noexcept { return h_.front().item; }
  bool contains(const T* t) const noexcept { return t->deadline_slot != npos; }
  // The item's deadline (it is in the heap).
  Time when(const T* t) const noexcept { return h_[t->deadline_slot].when; }

  // Adds the item at `when`, or moves its entry there.
  void set(T* t, Time when) {
    if (t->deadline_slot == npos) {
      h_.push_back({when, t});
      t->deadline_slot = h_.size() - 1;
      sift_up(h_.size() - 1);
      return;
    }
    const std::size_t i = t->deadline_slot;
    const Time old = h_[i].when;
    h_[i].when = when;
    if (when < old) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  // Removes the item's entry, if it has one.
  void erase(T* t) noexcept {
    const std::size_t i = t->deadline_slot;
    if (i == npos) return;
    t->deadline_slot = npos;
    const std::size_t last = h_.size() - 1;
    if (i != last) {
      h_[i] = h_[last];
      h_[i].item->deadline_slot = i;
      h_.pop_back();
      // The moved entry may belong above or below its new place.
      if (i > 0 && h_[i].when < h_[(i - 1) / 2].when) {
        sift_up(i);
      } else {
        sift_down(i);
      }
    } else {
      h_.pop_back();
    }
    // A server that held many sessions and now holds few gives the array back.
    if (h_.capacity() > 1024 && h_.size() < h_.capacity() / 4) h_.shrink_to_fit();
  }

  // Removes and returns the earliest entry's item (the heap is not empty).
  T* pop() noexcept {
    T* t = h_.front().item;
    erase(t);
    return t;
  }

 private:
  struct Entry {
    Time when;
    T* item;
  };
  void sift_up(std::size_t i) noexcept {
    Entry e = h_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!(e.when < h_[parent].when)) break;
      h_[i] = h_[parent];
      h_[i].item->deadline_slot = i;
      i = parent;
    }
    h_[i] = e;
    e.item->deadline_slot = i;
  }
  void sift_down(std::size_t i) noexcept {
    Entry e = h_[i];
    const std::size_t n = h_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && h_[child + 1].when < h_[child].when) ++child;
      if (!(h_[child].when < e.when)) break;
      h_[i] = h_[child];
      h_[i].item->deadline_slot = i;
      i = child;
    }
    h_[i] = e;
    e.item->deadline_slot = i;
  }

  std::vector<Entry> h_;
};

}  // namespace shmio::engineio::detail
