// The server's deadline heap (server/engineio/src/deadline_heap.hpp) against a reference model:
// random sets, moves and removals, then every entry pops in time order with its slots kept right.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "deadline_heap.hpp"

namespace {

struct Item {
  std::size_t deadline_slot = shmio::engineio::detail::DeadlineHeap<Item, int>::npos;
  int id = 0;
};
using Heap = shmio::engineio::detail::DeadlineHeap<Item, int>;

TEST(DeadlineHeap, RandomSetsMovesAndRemovalsPopInTimeOrder) {
  std::mt19937 rng(12345);
  std::vector<Item> items(500);
  for (int i = 0; i < 500; ++i) items[static_cast<std::size_t>(i)].id = i;
  Heap heap;
  std::map<int, int> model;  // id -> time
  for (int step = 0; step < 20000; ++step) {
    Item& it = items[rng() % items.size()];
    const int op = static_cast<int>(rng() % 3);
    if (op < 2) {  // add or move (earlier or later)
      const int when = static_cast<int>(rng() % 1000);
      heap.set(&it, when);
      model[it.id] = when;
    } else {
      heap.erase(&it);
      model.erase(it.id);
    }
    ASSERT_EQ(heap.size(), model.size());
    ASSERT_EQ(heap.contains(&it), model.count(it.id) == 1);
    if (heap.contains(&it)) {
      ASSERT_EQ(heap.when(&it), model[it.id]);
    }
    if (!heap.empty()) {
      int earliest = 1 << 30;
      for (const auto& [id, t] : model) earliest = std::min(earliest, t);
      ASSERT_EQ(heap.top_time(), earliest);
      ASSERT_EQ(model[heap.top()->id], earliest);
    }
  }
  int last = -1;
  while (!heap.empty()) {
    const int t = heap.top_time();
    Item* it = heap.pop();
    EXPECT_GE(t, last);
    last = t;
    EXPECT_EQ(model.at(it->id), t);
    EXPECT_FALSE(heap.contains(it));
    model.erase(it->id);
  }
  EXPECT_TRUE(model.empty());
}

TEST(DeadlineHeap, ErasingWhatIsNotThereIsHarmless) {
  Item a, b;
  Heap heap;
  heap.erase(&a);
  heap.set(&a, 5);
  heap.set(&b, 3);
  heap.erase(&b);
  heap.erase(&b);
  EXPECT_EQ(heap.size(), 1u);
  EXPECT_EQ(heap.top(), &a);
}

}  // namespace
