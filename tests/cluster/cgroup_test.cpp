// --workers auto under a cgroup CPU limit (cluster::cgroup_cpu_limit, cluster::auto_workers),
// read from cgroup trees made here as plain directories (v2, v1, hybrid, a container's view).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "shmio/cluster/supervisor.hpp"

namespace fs = std::filesystem;
using shmio::cluster::auto_workers;
using shmio::cluster::cgroup_cpu_limit;

namespace {

class Tree {
 public:
  Tree() {
    root_ = (fs::temp_directory_path() /
             ("shmio-cgroup-test." + std::to_string(::getpid()) + "." + std::to_string(count_++)))
                .string();
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  void write(const std::string& rel, const std::string& text) const {
    const fs::path p = fs::path(root_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const std::string& root() const { return root_; }

 private:
  static inline int count_ = 0;
  std::string root_;
};

}  // namespace

TEST(CgroupCpuLimit, V2TakesTheTightestOfTheCgroupAndItsAncestors) {
  Tree t;
  t.write("cgroup.controllers", "cpu memory\n");
  t.write("kubepods/cpu.max", "max 100000\n");
  t.write("kubepods/pod1/cpu.max", "400000 100000\n");   // 4 CPUs
  t.write("kubepods/pod1/app/cpu.max", "max 100000\n");  // none of its own
  const std::string self = "0::/kubepods/pod1/app\n";
  ASSERT_TRUE(cgroup_cpu_limit(self, t.root()).has_value());
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit(self, t.root()), 4.0);
  t.write("kubepods/cpu.max", "250000 100000\n");  // an ancestor tighter still: 2.5
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit(self, t.root()), 2.5);
}

TEST(CgroupCpuLimit, NoLimitUnreadableOrDamagedFilesSayNone) {
  Tree t;
  t.write("cgroup.controllers", "cpu\n");
  EXPECT_FALSE(cgroup_cpu_limit("0::/a/b\n", t.root()));  // no cpu.max anywhere
  t.write("a/cpu.max", "max 100000\n");
  EXPECT_FALSE(cgroup_cpu_limit("0::/a/b\n", t.root()));
  for (const char* bad : {"", "100000", "-5 100000", "0 100000", "100000 0", "1e5 100000",
                          "100000 100000 7", "99999999999999999999 100000", "abc def"}) {
    t.write("a/b/cpu.max", bad);
    EXPECT_FALSE(cgroup_cpu_limit("0::/a/b\n", t.root())) << "cpu.max: '" << bad << "'";
  }
  EXPECT_FALSE(cgroup_cpu_limit("", t.root()));
  EXPECT_FALSE(cgroup_cpu_limit("garbage without colons\n::\n0:\n", t.root()));
  EXPECT_FALSE(cgroup_cpu_limit("0::/a/b\n", t.root() + "/does-not-exist"));
}

TEST(CgroupCpuLimit, AContainerSeesItsOwnCgroupAsTheRoot) {
  // Without a cgroup namespace of its own a container reads its host's path in
  // /proc/self/cgroup, while /sys/fs/cgroup is its own cgroup: the root's cpu.max decides.
  Tree t;
  t.write("cgroup.controllers", "cpu\n");
  t.write("cpu.max", "150000 100000\n");
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit("0::/system.slice/docker-abc.scope\n", t.root()), 1.5);
  // A path outside the namespace ("/../x") is read as the mount's root only.
  t.write("x/cpu.max", "50000 100000\n");
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit("0::/../x\n", t.root()), 1.5);
}

TEST(CgroupCpuLimit, V1AndHybridHierarchies) {
  Tree t;
  t.write("cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  t.write("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  t.write("cpu,cpuacct/docker/c1/cpu.cfs_quota_us", "300000\n");
  t.write("cpu,cpuacct/docker/c1/cpu.cfs_period_us", "100000\n");
  const std::string self =
      "12:memory:/docker/c1\n4:cpu,cpuacct:/docker/c1\n1:name=systemd:/docker/c1\n0::/\n";
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit(self, t.root()), 3.0);
  // Hybrid: v2 mounted at "unified" beside v1's controllers; its cpu.max counts too.
  t.write("unified/docker/c1/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(*cgroup_cpu_limit(self + "0::/docker/c1\n", t.root()), 2.0);
  // The cpu controller on a mount of its own, no limit set: none.
  Tree u;
  u.write("cpu/cpu.cfs_quota_us", "-1\n");
  u.write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_FALSE(cgroup_cpu_limit("1:cpu:/\n2:cpuacct:/\n", u.root()));
  // A controller merely named like cpu ("cpuset") is not it.
  EXPECT_FALSE(cgroup_cpu_limit("3:cpuset:/docker/c1\n", t.root()));
}

TEST(AutoWorkers, OnePerCpuOfTheMaskButNoMoreThanTheLimitRoundedUp) {
  std::string why;
  EXPECT_EQ(auto_workers(16, std::nullopt, &why), 16);
  EXPECT_TRUE(why.empty());
  EXPECT_EQ(auto_workers(16, 4.0, &why), 4);
  EXPECT_NE(why.find("4 workers"), std::string::npos) << why;
  EXPECT_NE(why.find("4.00 CPUs"), std::string::npos) << why;
  EXPECT_EQ(auto_workers(16, 2.5, &why), 3);
  EXPECT_EQ(auto_workers(16, 0.1, &why), 1);           // at least one
  EXPECT_EQ(auto_workers(16, 4.0000000001, &why), 4);  // a whole number of periods, rounded
  EXPECT_EQ(auto_workers(4, 8.0, &why), 4);            // a limit above the mask: the mask
  EXPECT_TRUE(why.empty());
  EXPECT_EQ(auto_workers(0, std::nullopt, &why), 1);  // an unreadable mask: one
  EXPECT_EQ(auto_workers(16, 4.0), 4);                // why not asked for
}

TEST(AutoWorkers, ThisProcessGetsAtLeastOneAndAtMostItsMask) {
  const int n = auto_workers();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, static_cast<int>(shmio::cluster::affinity_cpus().size()));
}
