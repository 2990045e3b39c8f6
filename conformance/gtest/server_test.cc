// Server pieces that need no sockets: dispatch (SRV-PROC-3, SRV-PROC-5) and the capped output
// buffer (SRV-4, SRV-12).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "server/dispatcher.h"
#include "server/output_buffer.h"
#include "support/seed.h"

namespace procspec::detail {
namespace {

Dispatcher make(DispatchMode mode, int workers) { return Dispatcher(mode, std::make_shared<WorkerLoad>(workers)); }

TEST(Dispatcher, SRVPROC3_ModesOutsideOneToFourAreSettingsErrors) {
  for (long v : {1, 2, 3, 4}) EXPECT_TRUE(parse_dispatch_mode(v)) << v;
  for (long v : {0, 5, 6, 7, -1, 100}) {
    auto r = parse_dispatch_mode(v);
    ASSERT_FALSE(r) << v;
    EXPECT_EQ(r.error().code, errc::invalid_setting);
    EXPECT_NE(r.error().message.find("dispatch_mode " + std::to_string(v)), std::string::npos) << r.error().message;
  }
}

TEST(Dispatcher, SRVPROC3_RoundRobinCyclesWorkers) {
  auto d = make(DispatchMode::round_robin, 3);
  std::vector<int> seen;
  for (int i = 0; i < 6; ++i) {
    Routing conn;
    seen.push_back(d.dispatch(conn, 10 + i, 0));
    d.done(conn);
  }
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 0, 1, 2}));
}

TEST(Dispatcher, SRVPROC3_FdModAndIpModAreStable) {
  auto by_fd = make(DispatchMode::fd_mod, 4);
  auto by_ip = make(DispatchMode::ip_mod, 4);
  for (int fd = 5; fd < 40; ++fd) {
    Routing a, b;
    EXPECT_EQ(by_fd.dispatch(a, fd, 0), fd % 4);
    EXPECT_EQ(by_ip.dispatch(b, fd, 0x7f000001u), static_cast<int>(0x7f000001u % 4));
    by_fd.done(a);
    by_ip.done(b);
  }
}

TEST(Dispatcher, SRVPROC3_IdleWorkerPrefersWorkersWithNothingInFlight) {
  auto d = make(DispatchMode::idle_worker, 3);
  Routing busy1, busy2, next;
  int w1 = d.dispatch(busy1, 7, 0);
  int w2 = d.dispatch(busy2, 8, 0);
  EXPECT_NE(w1, w2);
  int w3 = d.dispatch(next, 9, 0);
  EXPECT_NE(w3, w1);
  EXPECT_NE(w3, w2);
  // Everyone busy: the least loaded one is chosen, never an out-of-range id.
  Routing more;
  d.done(busy2);
  EXPECT_EQ(d.dispatch(more, 10, 0), w2);
}

// Any mode, random interleavings: while a connection has packets in flight they all go to one
// worker, so its packets are handled (and answered) in order.
TEST(Dispatcher, SRVPROC3_ConnectionPacketsStayOnOneWorkerWhileInFlight) {
  const auto seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (auto mode : {DispatchMode::round_robin, DispatchMode::fd_mod, DispatchMode::idle_worker, DispatchMode::ip_mod}) {
    auto d = make(mode, 4);
    std::vector<Routing> conns(16);
    std::vector<std::vector<int>> pending(conns.size());  // worker of each in-flight packet
    for (int step = 0; step < 5000; ++step) {
      auto c = static_cast<std::size_t>(rng() % conns.size());
      if (rng() % 2 || pending[c].empty()) {
        int w = d.dispatch(conns[c], static_cast<int>(c) + 3, static_cast<std::uint32_t>(c * 7919));
        ASSERT_GE(w, 0);
        ASSERT_LT(w, 4);
        if (!pending[c].empty()) {
          ASSERT_EQ(w, pending[c].front()) << "connection " << c << " split across workers";
        }
        pending[c].push_back(w);
      } else {
        d.done(conns[c]);
        pending[c].erase(pending[c].begin());
      }
    }
  }
}

TEST(Dispatcher, SRVPROC5_LostWorkerReportsConnectionsWithPacketsInFlight) {
  auto load = std::make_shared<WorkerLoad>(2);
  Dispatcher d(DispatchMode::fd_mod, load);
  Routing on0, on1, idle;
  d.dispatch(on0, 4, 0);
  d.dispatch(on0, 4, 0);
  d.dispatch(on1, 5, 0);
  EXPECT_EQ(d.lost(on0, 0), 2);
  EXPECT_EQ(d.lost(on1, 0), 0);
  EXPECT_EQ(d.lost(idle, 0), 0);
  EXPECT_EQ(load->in_flight(0), 0);
  EXPECT_EQ(load->in_flight(1), 1);
  d.done(on0);  // a late report from the dead worker changes nothing
  EXPECT_EQ(load->in_flight(0), 0);
}

TEST(OutputBuffer, SRV12_AppendBeyondTheLimitIsRefusedWholeAndKeepsWhatWasAccepted) {
  OutputBuffer out(10);
  ASSERT_TRUE(out.append("abcdef"));
  auto r = out.append("ghijk");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::output_buffer_full);
  EXPECT_NE(r.error().message.find("limit is 10"), std::string::npos) << r.error().message;
  EXPECT_EQ(out.size(), 6u);
  ASSERT_TRUE(out.append("ghij"));
  EXPECT_EQ(out.size(), 10u);
}

// spec: SRV-4
TEST(OutputBuffer, SRV12_GatherAndConsumeKeepByteOrder) {
  const auto seed = test::test_seed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  OutputBuffer out(1 << 20);
  std::string expected, written;
  for (int i = 0; i < 2000; ++i) {
    if (rng() % 3) {
      std::string piece(rng() % 9000, static_cast<char>('a' + i % 26));
      if (out.append(piece)) expected += piece;
    } else if (!out.empty()) {
      iovec iov[8];
      int n = out.gather(iov, 8);
      std::size_t budget = rng() % (out.size() + 1), took = 0;
      for (int k = 0; k < n && took < budget; ++k) {
        std::size_t len = std::min(iov[k].iov_len, budget - took);
        written.append(static_cast<const char*>(iov[k].iov_base), len);
        took += len;
      }
      out.consume(took);
    }
  }
  while (!out.empty()) {
    iovec iov[8];
    int n = out.gather(iov, 8);
    std::size_t took = 0;
    for (int k = 0; k < n; ++k) {
      written.append(static_cast<const char*>(iov[k].iov_base), iov[k].iov_len);
      took += iov[k].iov_len;
    }
    out.consume(took);
  }
  EXPECT_EQ(written, expected);
}

}  // namespace
}  // namespace procspec::detail
