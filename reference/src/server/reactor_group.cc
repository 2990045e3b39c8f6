#include "server/reactor_group.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "procspec/log.h"

namespace procspec::detail {
namespace {

constexpr std::size_t kMaxChannelLength = 0xFFFFFFFFu;

}  // namespace

ChannelOptions server_channel_options(const ServerCore& core) {
  ChannelOptions options;
  const std::size_t answer = static_cast<std::size_t>(core.settings.output_buffer_size);
  options.max_length = std::min(kMaxChannelLength, std::max({options.max_length, core.framing.max_length(), answer}));
  return options;
}

Result<std::vector<ChannelPair>> make_server_channels(ServerCore& core) {
  const auto count = static_cast<std::size_t>(core.settings.worker_num) * static_cast<std::size_t>(core.settings.reactor_num);
  auto pairs = make_channels(core.settings.ipc, count, server_channel_options(core));
  if (!pairs) return forward_error(std::move(pairs).error());
  auto taken = SharedCounters::create(pairs->size());
  if (!taken) return forward_error(std::move(taken).error());
  core.taken = *taken;
  return pairs;
}

Result<std::unique_ptr<ReactorGroup>> ReactorGroup::create(ServerCore& core, std::vector<ChannelPair>& pairs) {
  const int reactors = core.settings.reactor_num;
  const int workers = core.settings.worker_num;
  auto load = std::make_shared<WorkerLoad>(workers);
  std::vector<std::unique_ptr<ForwardingReactor>> made;
  for (int r = 0; r < reactors; ++r) {
    std::vector<Channel*> ends;
    for (int w = 0; w < workers; ++w) ends.push_back(pairs[channel_index(w, r, reactors)].reactor.get());
    auto reactor = ForwardingReactor::create(core, r, std::move(ends), load);
    if (!reactor) return forward_error(std::move(reactor).error());
    made.push_back(std::move(*reactor));
  }
  return std::unique_ptr<ReactorGroup>(new ReactorGroup(std::move(made)));
}

ReactorGroup::~ReactorGroup() { (void)stop_and_join(); }

Status ReactorGroup::start() {
  threaded_.emplace();
  results_.assign(reactors_.size(), Status{});
  for (std::size_t i = 0; i < reactors_.size(); ++i) {
    threads_.push_back(start_thread_without_signals([this, i] {
      results_[i] = reactors_[i]->run();
      if (!results_[i]) log_error("reactor " + std::to_string(i) + ": " + results_[i].error().message);
    }));
  }
  return {};
}

void ReactorGroup::all(std::function<void(ForwardingReactor&, std::function<void()>)> task, std::function<void()> then) {
  auto remaining = std::make_shared<std::atomic<std::size_t>>(reactors_.size());
  auto shared_then = std::make_shared<std::function<void()>>(std::move(then));
  for (auto& reactor : reactors_) {
    ForwardingReactor* r = reactor.get();
    r->mailbox().post([r, task, remaining, shared_then] {
      task(*r, [remaining, shared_then] {
        if (remaining->fetch_sub(1) == 1 && *shared_then) (*shared_then)();
      });
    });
  }
}

void ReactorGroup::worker_exited(int worker, std::function<void()> settled) {
  all([worker](ForwardingReactor& r, std::function<void()> done) {
    r.worker_exited(worker);
    done();
  }, std::move(settled));
}

void ReactorGroup::shutdown(std::function<void()> drained) {
  all([](ForwardingReactor& r, std::function<void()> done) { r.begin_shutdown(std::move(done)); }, std::move(drained));
}

Status ReactorGroup::stop_and_join() {
  if (threads_.empty()) return {};
  for (auto& reactor : reactors_) {
    ForwardingReactor* r = reactor.get();
    r->mailbox().post([r] { r->stop(); });
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  threaded_.reset();
  for (auto& st : results_) {
    if (!st) return st;
  }
  return {};
}

}  // namespace procspec::detail
