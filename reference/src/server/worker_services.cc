// One process's side of the server's services (worker_services.h): its inbox in its loop, and
// task / taskwait / finish / send_message for the Server facade.
#include "server/worker_services.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include "procspec/log.h"
#include "server/server_core.h"

namespace procspec::detail {
namespace {

thread_local WorkerServices* tls_current = nullptr;

// MessageHeader.flags of a task and of its answer.
constexpr std::uint8_t kNoReply = 1;   // sent from a user process: nobody to answer
constexpr std::uint8_t kWait = 2;      // taskwait: the answer goes to the waiting call
constexpr std::uint8_t kNoResult = 4;  // answer: on_task returned without finish()

// The session id of a task carries the sender's pid above the per-process task id, so the
// answer to a dead predecessor's task can never be taken for the replacement's task of the same id.
std::uint64_t task_session(std::uint32_t task_id) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(::getpid())) << 32) | task_id;
}

}  // namespace

WorkerServices::WorkerServices(ServerCore& core, int worker_id, EventLoop* loop)
    : core_(core), services_(*core.services), id_(worker_id), loop_(loop) {}

Result<std::unique_ptr<WorkerServices>> WorkerServices::attach(ServerCore& core, int worker_id, EventLoop* loop) {
  if (!core.services || core.services->inboxes.empty())
    return fail(errc::not_started, "worker services: the server's inboxes were not prepared (start() first)");
  auto& s = *core.services;
  const int all = s.user_base() + static_cast<int>(s.user_processes.size());
  if (worker_id < 0 || worker_id >= all)
    return fail(errc::unknown_worker, "worker services: no worker " + std::to_string(worker_id) + " (ids 0.." +
                                          std::to_string(all - 1) + ")");
  if (loop && worker_id >= s.user_base()) loop = nullptr;  // user processes have no inbox
  std::unique_ptr<WorkerServices> w(new WorkerServices(core, worker_id, loop));
  if (loop) {
    if (auto st = w->hook_into_loop(); !st) return forward_error(std::move(st).error());
  }
  w->previous_ = tls_current;
  tls_current = w.get();
  return w;
}

WorkerServices::~WorkerServices() {
  for (int fd : watched_fds_) (void)loop_->remove(fd);
  if (tls_current == this) tls_current = previous_;
}

WorkerServices* WorkerServices::current() noexcept { return tls_current; }

bool WorkerServices::is_task_worker() const noexcept {
  return id_ >= services_.worker_num && id_ < services_.user_base();
}

std::vector<Channel*> WorkerServices::receive_channels() const {
  std::vector<Channel*> out;
  if (!loop_) return out;
  out.push_back(services_.inboxes[static_cast<std::size_t>(id_)].worker.get());
  if (is_task_worker() && services_.task_ipc_mode != 1) {
    const auto t = static_cast<std::size_t>(id_ - services_.worker_num);
    out.push_back(services_.task_queues[1 + t].worker.get());
    if (services_.task_ipc_mode == 3) out.push_back(services_.task_queues[0].worker.get());
  }
  return out;
}

Status WorkerServices::hook_into_loop() {
  for (Channel* ch : receive_channels()) {
    ch->set_nonblocking(true);
    const PollTarget t = ch->readable_target();
    if (t.fd < 0) return fail(errc::not_started, "worker services: no readable fd for the inbox of worker " + std::to_string(id_));
    if (auto st = loop_->add(t.fd, [this, ch] { pump_channel(*ch, false); }); !st) return st;
    watched_fds_.push_back(t.fd);
  }
  return {};
}

void WorkerServices::pump(bool into_backlog) {
  for (Channel* ch : receive_channels()) pump_channel(*ch, into_backlog);
}

void WorkerServices::pump_channel(Channel& channel, bool into_backlog) {
  for (int errors = 0;;) {
    auto m = channel.receive();
    if (!m) {
      if (would_block(m.error())) break;
      log_warn("worker " + std::to_string(id_) + ": inbox: " + m.error().message);
      // A malformed or oversized message was dropped: go on with the rest, but a channel that
      // keeps failing (closed, broken) must not spin here; the loop calls again when readable.
      if (m.error().code == errc::peer_closed || ++errors >= 16) break;
      continue;
    }
    if (awaited_ && m->header.kind == MessageKind::finish && m->header.session_id == *awaited_) {
      awaited_result_ = std::move(*m);
    } else if (into_backlog) {
      backlog_.push_back(std::move(*m));
    } else {
      dispatch(std::move(*m));
    }
  }
  if (!into_backlog) schedule_backlog();
}

void WorkerServices::schedule_backlog() {
  if (backlog_.empty() || !loop_ || backlog_scheduled_) return;
  backlog_scheduled_ = true;
  loop_->defer([this] { run_backlog(); });
}

void WorkerServices::run_backlog() {
  backlog_scheduled_ = false;
  while (!backlog_.empty()) {
    Message m = std::move(backlog_.front());
    backlog_.pop_front();
    dispatch(std::move(m));
  }
}

void WorkerServices::finish_held_work() {
  run_backlog();
  // The queue receiver may hold tasks it already took out of the kernel queue (capacity 1 plus
  // one in hand); what is still in the kernel queue is left for the replacement.
  if (!is_task_worker() || services_.task_ipc_mode == 1) return;
  for (Channel* ch : receive_channels()) {
    if (ch == services_.inboxes[static_cast<std::size_t>(id_)].worker.get()) continue;
    for (int i = 0; i < 2; ++i) {
      auto m = ch->receive();
      if (!m) break;
      dispatch(std::move(*m));
    }
  }
}

void WorkerServices::dispatch(Message message) {
  Server& server = *core_.facade;
  switch (message.header.kind) {
    case MessageKind::pipe_message:
      if (core_.events.on_pipe_message) {
        core_.events.on_pipe_message(server, message.header.worker_id, message.payload);
      } else {
        log_warn("worker " + std::to_string(id_) + ": pipe message dropped: on_pipe_message is not set");
      }
      return;
    case MessageKind::finish: on_finish_message(message); return;
    case MessageKind::task: run_task(message); return;
    default:
      log_warn("worker " + std::to_string(id_) + ": unexpected message kind " +
               std::to_string(static_cast<int>(message.header.kind)) + " in the inbox");
  }
}

void WorkerServices::run_task(const Message& message) {
  const auto t = static_cast<std::size_t>(id_ - services_.worker_num);
  std::atomic<int>* busy = services_.task_state ? &services_.task_state[1 + t] : nullptr;
  if (busy) busy->store(1);
  current_task_ = CurrentTask{message.header.session_id, message.header.worker_id, message.header.flags};
  const auto task_id = static_cast<int>(message.header.session_id & 0xffffffffu);
  core_.events.on_task(*core_.facade, task_id, message.header.worker_id, message.payload);
  if (!current_task_->answered && !(current_task_->flags & kNoReply)) {
    if (auto st = answer(*current_task_, {}, false); !st) log_warn("task worker " + std::to_string(id_) + ": " + st.error().message);
  }
  current_task_.reset();
  if (busy) busy->store(0);
}

Status WorkerServices::answer(const CurrentTask& task, std::string_view result, bool has_result) {
  if (task.src < 0 || task.src >= services_.worker_num)
    return fail(errc::unknown_worker, "finish: task from worker " + std::to_string(task.src) + ", which has no inbox");
  MessageHeader h;
  h.kind = MessageKind::finish;
  h.flags = static_cast<std::uint8_t>((has_result ? 0 : kNoResult) | (task.flags & kWait));
  h.reactor_id = static_cast<std::uint16_t>(id_);
  h.worker_id = static_cast<std::uint16_t>(id_);
  h.session_id = task.id;
  return send_on(*services_.inboxes[static_cast<std::size_t>(task.src)].reactor, h, result);
}

Status WorkerServices::finish(std::string_view result) {
  if (!current_task_) return fail(errc::wrong_role, "finish: only inside the Task callback of a task worker");
  const auto task_id = std::to_string(current_task_->id & 0xffffffffu);
  if (current_task_->flags & kNoReply)
    return fail(errc::invalid_argument, "finish: task " + task_id + " came from a user process and takes no result");
  if (current_task_->answered) return fail(errc::invalid_argument, "finish: task " + task_id + " is already finished");
  if (result.size() > kMaxServiceMessage)
    return fail(errc::payload_too_large, "finish: result of " + std::to_string(result.size()) + " bytes exceeds " +
                                             std::to_string(kMaxServiceMessage));
  current_task_->answered = true;
  return answer(*current_task_, result, true);
}

void WorkerServices::on_finish_message(const Message& message) {
  const std::uint64_t session = message.header.session_id;
  const auto task_id = static_cast<int>(session & 0xffffffffu);
  if (abandoned_.erase(session)) {
    log_info("worker " + std::to_string(id_) + ": result of task " + std::to_string(task_id) +
             " arrived after its taskwait timed out; dropped");
    return;
  }
  if (outstanding_.erase(session) == 0) {
    log_debug("worker " + std::to_string(id_) + ": result of unknown task " + std::to_string(task_id) + " dropped");
    return;
  }
  if (!(message.header.flags & kNoResult)) {
    if (core_.events.on_finish) {
      core_.events.on_finish(*core_.facade, task_id, message.payload);
    } else {
      log_warn("worker " + std::to_string(id_) + ": task " + std::to_string(task_id) + " finished but on_finish is not set");
    }
  }
  if (outstanding_.empty() && on_tasks_done_) on_tasks_done_();
}

int WorkerServices::pick_task_worker(int dst, std::size_t size) const {
  const int n = services_.task_worker_num;
  if (services_.task_ipc_mode == 3) {
    if (size + 24 <= services_.queue_msgmax) return -1;  // the shared queue: first idle worker takes it
  } else if (dst >= 0) {
    return dst;
  }
  // Swoole's idle scan: from a round-robin start, the first task worker not running a task.
  const int start = services_.task_state[0].fetch_add(1) % n;
  for (int i = 0; i < n; ++i) {
    const int t = (start + i) % n;
    if (services_.task_state[1 + t].load() == 0) return t;
  }
  return start;
}

Channel* WorkerServices::task_channel(int t, std::size_t) {
  if (services_.task_ipc_mode == 1) return services_.inboxes[static_cast<std::size_t>(services_.worker_num + t)].reactor.get();
  return services_.task_queues[static_cast<std::size_t>(1 + t)].reactor.get();  // t = -1: the shared one
}

Result<int> WorkerServices::task(std::string_view data, int dst) {
  const int n = services_.task_worker_num;
  if (n == 0) return fail(errc::invalid_setting, "task: task_worker_num is 0, there is no task worker");
  if (is_task_worker()) return fail(errc::wrong_role, "task: cannot be called in a task worker");
  if (dst < -1 || dst >= n)
    return fail(errc::unknown_worker, "task: dst_worker_id " + std::to_string(dst) + " must be -1 or less than task_worker_num " +
                                          std::to_string(n));
  if (data.size() > kMaxServiceMessage)
    return fail(errc::payload_too_large, "task: " + std::to_string(data.size()) + " bytes exceed " + std::to_string(kMaxServiceMessage));
  const auto task_id = static_cast<std::uint32_t>(next_task_id_++);
  MessageHeader h;
  h.kind = MessageKind::task;
  h.flags = loop_ ? 0 : kNoReply;
  h.reactor_id = static_cast<std::uint16_t>(id_);
  h.worker_id = static_cast<std::uint16_t>(id_);
  h.session_id = task_session(task_id);
  if (loop_) outstanding_.insert(h.session_id);  // before sending: the answer may come during the send
  auto st = send_on(*task_channel(pick_task_worker(dst, data.size()), data.size()), h, data);
  if (!st) {
    outstanding_.erase(h.session_id);
    return forward_error(std::move(st).error());
  }
  return static_cast<int>(task_id);
}

Result<std::string> WorkerServices::taskwait(std::string_view data, double timeout_seconds, int dst) {
  if (!loop_) return fail(errc::wrong_role, "taskwait: only an event worker can wait for a task result");
  if (!(timeout_seconds > 0)) return fail(errc::invalid_argument, "taskwait: timeout must be > 0 seconds");
  const int n = services_.task_worker_num;
  if (n == 0) return fail(errc::invalid_setting, "taskwait: task_worker_num is 0, there is no task worker");
  if (dst < -1 || dst >= n)
    return fail(errc::unknown_worker, "taskwait: dst_worker_id " + std::to_string(dst) +
                                          " must be -1 or less than task_worker_num " + std::to_string(n));
  const auto task_id = static_cast<std::uint32_t>(next_task_id_++);
  MessageHeader h;
  h.kind = MessageKind::task;
  h.flags = kWait;
  h.reactor_id = static_cast<std::uint16_t>(id_);
  h.worker_id = static_cast<std::uint16_t>(id_);
  h.session_id = task_session(task_id);
  awaited_ = h.session_id;
  awaited_result_.reset();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  auto st = send_on(*task_channel(pick_task_worker(dst, data.size()), data.size()), h, data);
  const int inbox_fd = services_.inboxes[static_cast<std::size_t>(id_)].worker->readable_target().fd;
  while (st && !awaited_result_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{inbox_fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) > 0) pump(true);
  }
  schedule_backlog();
  awaited_.reset();
  if (!st) return forward_error(std::move(st).error());
  if (!awaited_result_) {
    abandoned_.insert(h.session_id);
    return fail(std::make_error_code(std::errc::timed_out),
                "taskwait: no result for task " + std::to_string(task_id) + " within the timeout of " +
                    std::to_string(timeout_seconds) + " s");
  }
  Message m = std::move(*awaited_result_);
  awaited_result_.reset();
  if (m.header.flags & kNoResult)
    return fail(errc::payload_empty, "taskwait: task " + std::to_string(task_id) + " returned without finish()");
  return std::move(m.payload);
}

Status WorkerServices::send_message(std::string_view message, int dst) {
  const int all = services_.user_base();
  if (dst < 0 || dst >= all)
    return fail(errc::unknown_worker, "send_message: worker_id " + std::to_string(dst) + " is invalid (workers 0.." +
                                          std::to_string(services_.worker_num - 1) + ", task workers up to " +
                                          std::to_string(all - 1) + "; user processes cannot receive)");
  if (dst == id_) return fail(errc::invalid_argument, "send_message: worker " + std::to_string(dst) + " cannot send a message to itself");
  if (!core_.events.on_pipe_message)
    return fail(errc::invalid_setting, "send_message: the PipeMessage event (on_pipe_message) is not set");
  if (message.size() > kMaxServiceMessage)
    return fail(errc::payload_too_large, "send_message: " + std::to_string(message.size()) + " bytes exceed " +
                                             std::to_string(kMaxServiceMessage));
  MessageHeader h;
  h.kind = MessageKind::pipe_message;
  h.reactor_id = static_cast<std::uint16_t>(id_);
  h.worker_id = static_cast<std::uint16_t>(id_);
  return send_on(*services_.inboxes[static_cast<std::size_t>(dst)].reactor, h, message);
}

Status WorkerServices::send_on(Channel& channel, const MessageHeader& header, std::string_view payload) {
  channel.set_nonblocking(true);
  bool accepted = false;
  for (;;) {
    Status st = accepted ? channel.flush() : channel.send(header, payload);
    if (st) {
      accepted = true;
      if (!channel.has_pending()) return {};
    } else if (!would_block(st.error())) {
      return st;
    }
    // Full: wait for room, and meanwhile take in what others send us — they may be blocked
    // sending to us while we are blocked sending to them.
    std::vector<pollfd> fds;
    const PollTarget w = channel.writable_target();
    if (w.fd >= 0) fds.push_back({w.fd, static_cast<short>(w.events), 0});
    for (Channel* ch : receive_channels()) fds.push_back({ch->readable_target().fd, POLLIN, 0});
    // A SysV queue has no writability signal: retry after a millisecond.
    const int timeout = w.fd >= 0 ? 1000 : 1;
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) return sys_fail(errno, "send: poll");
    pump(true);
    schedule_backlog();  // run from the loop once this call has returned
  }
}

}  // namespace procspec::detail
