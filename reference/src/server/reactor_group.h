#pragma once
// The master's reactor threads (PROCESS mode): made from the reactor ends of the
// channels, started with every signal blocked (signals belong to the main thread's loop), and
// asked to do things all together — the continuation runs once every reactor has done its part,
// on whichever reactor thread finished last (post it to your own mailbox to get it back).
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "procspec/channel.h"
#include "server/forwarding_reactor.h"
#include "server/server_core.h"
#include "server/server_threads.h"

namespace procspec::detail {

// Channel i of a mode's pairs joins worker i / reactor_num and reactor i % reactor_num.
inline std::size_t channel_index(int worker, int reactor, int reactor_num) {
  return static_cast<std::size_t>(worker) * static_cast<std::size_t>(reactor_num) + static_cast<std::size_t>(reactor);
}

// Channel options for the server's settings: room for the largest packet and answer.
ChannelOptions server_channel_options(const ServerCore& core);
// The worker_num × reactor_num channels of a PROCESS server (index: channel_index) and
// the shared counters (core.taken) that go with them; before any fork.
Result<std::vector<ChannelPair>> make_server_channels(ServerCore& core);

class ReactorGroup {
 public:
  static Result<std::unique_ptr<ReactorGroup>> create(ServerCore& core, std::vector<ChannelPair>& pairs);
  ~ReactorGroup();
  ReactorGroup(const ReactorGroup&) = delete;
  ReactorGroup& operator=(const ReactorGroup&) = delete;

  Status start();
  void worker_exited(int worker, std::function<void()> settled);
  void shutdown(std::function<void()> drained);
  // Stops every reactor loop and joins the threads; returns the first error a reactor hit.
  Status stop_and_join();

 private:
  explicit ReactorGroup(std::vector<std::unique_ptr<ForwardingReactor>> reactors) : reactors_(std::move(reactors)) {}
  void all(std::function<void(ForwardingReactor&, std::function<void()> done)> task, std::function<void()> then);

  std::vector<std::unique_ptr<ForwardingReactor>> reactors_;
  std::vector<std::thread> threads_;
  std::vector<Status> results_;
  std::optional<ThreadedMasterGuard> threaded_;
};

}  // namespace procspec::detail
