#include <gtest/gtest.h>
// placeholder, replaced below
TEST(Placeholder, Pending) {}
