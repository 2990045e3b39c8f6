// Pool: configuration, the manager side of start(), and the calls a callback may make.
#include "procspec/pool.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "pool/pool_impl.h"
#include "pool/worker_stop.h"
#include "procspec/log.h"
#include "procspec/role.h"

namespace procspec {
namespace {

Status not_after_start(const Pool::Impl& impl, const char* what) {
  if (impl.master_pid != 0)
    return fail(errc::already_started, std::string(what) + ": the pool is started; register events before start()");
  return {};
}

const char* ipc_name(PoolIpc ipc) {
  switch (ipc) {
    case PoolIpc::none: return "none";
    case PoolIpc::unixsock: return "unixsock";
    case PoolIpc::msgqueue: return "msgqueue";
    case PoolIpc::socket: return "socket";
  }
  return "?";
}

}  // namespace

Pool::Pool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) { impl_->self = this; }

Pool::~Pool() { detail::close_msgqueue(*impl_); }

Result<std::unique_ptr<Pool>> Pool::create(const PoolOptions& options) {
  if (options.worker_num < 1)
    return fail(errc::invalid_setting, "worker_num " + std::to_string(options.worker_num) + " must be at least 1");
  if (options.max_wait_time.count() < 0) return fail(errc::invalid_setting, "max_wait_time must not be negative");
  if (options.max_package_size == 0) return fail(errc::invalid_setting, "max_package_size must be at least 1");
  switch (options.ipc) {
    case PoolIpc::none: case PoolIpc::unixsock: case PoolIpc::msgqueue: case PoolIpc::socket: break;
    default: return fail(errc::invalid_setting, "ipc " + std::to_string(static_cast<int>(options.ipc)) + " is unknown");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto slots = detail::SharedSlots::create(static_cast<std::size_t>(options.worker_num + Impl::kMaxUserProcesses));
  if (!slots) return forward_error(std::move(slots).error());
  impl->slots = std::move(*slots);
  if (options.ipc == PoolIpc::msgqueue) {
    if (auto st = detail::open_msgqueue(*impl); !st) return forward_error(std::move(st).error());
  }
  return std::unique_ptr<Pool>(new Pool(std::move(impl)));
}

Status Pool::on_worker_start(WorkerFn fn) {
  if (auto st = not_after_start(*impl_, "on_worker_start"); !st) return st;
  impl_->on_worker_start = std::move(fn);
  return {};
}
Status Pool::on_worker_stop(WorkerFn fn) {
  if (auto st = not_after_start(*impl_, "on_worker_stop"); !st) return st;
  impl_->on_worker_stop = std::move(fn);
  return {};
}
Status Pool::on_message(MessageFn fn) {
  if (auto st = not_after_start(*impl_, "on_message"); !st) return st;
  if (impl_->options.ipc == PoolIpc::none)
    return fail(errc::invalid_setting, "on_message: ipc none delivers no messages");
  impl_->on_message = std::move(fn);
  return {};
}
Status Pool::on_start(PoolFn fn) {
  if (auto st = not_after_start(*impl_, "on_start"); !st) return st;
  impl_->on_start = std::move(fn);
  return {};
}
Status Pool::on_shutdown(PoolFn fn) {
  if (auto st = not_after_start(*impl_, "on_shutdown"); !st) return st;
  impl_->on_shutdown = std::move(fn);
  return {};
}
Status Pool::on_worker_error(WorkerErrorFn fn) {
  if (auto st = not_after_start(*impl_, "on_worker_error"); !st) return st;
  impl_->on_worker_error = std::move(fn);
  return {};
}

Result<std::uint16_t> Pool::listen(std::string_view host, std::uint16_t port, int backlog) {
  if (auto st = not_after_start(*impl_, "listen"); !st) return forward_error(std::move(st).error());
  if (impl_->options.ipc != PoolIpc::socket)
    return fail(errc::invalid_argument, std::string("listen: needs ipc socket, the pool has ipc ") + ipc_name(impl_->options.ipc));
  if (impl_->listen_fd.valid()) return fail(errc::already_started, "listen: the pool is already listening");
  return detail::listen_tcp(*impl_, host, port, backlog);
}

Result<int> Pool::add_process(UserProcessFactory factory) {
  if (auto st = not_after_start(*impl_, "add_process"); !st) return forward_error(std::move(st).error());
  PROCSPEC_CHECK(factory != nullptr, "add_process needs a factory");
  if (impl_->user_count() >= Impl::kMaxUserProcesses)
    return fail(errc::invalid_argument, "add_process: at most " + std::to_string(Impl::kMaxUserProcesses) + " user processes");
  impl_->user_processes.push_back(std::move(factory));
  return impl_->options.worker_num + impl_->user_count() - 1;
}

Status Pool::start() {
  Impl& impl = *impl_;
  if (impl.master_pid != 0) return fail(errc::already_started, "start: the pool is already running");
  if (!impl.on_worker_start) return fail(errc::invalid_setting, "start: the WorkerStart callback is required");
  if (impl.options.ipc != PoolIpc::none && !impl.on_message)
    return fail(errc::invalid_setting, std::string("start: ipc ") + ipc_name(impl.options.ipc) + " needs a Message callback");
  if (impl.options.ipc == PoolIpc::socket && !impl.listen_fd.valid())
    return fail(errc::invalid_setting, "start: ipc socket needs listen() before start()");
  if (auto st = detail::open_pipes(impl); !st) return st;

  detail::ManagerOptions mo;
  mo.max_wait_time = impl.options.max_wait_time;
  mo.backoff = {impl.options.healthy_uptime, impl.options.restart_backoff_base, impl.options.restart_backoff_max};
  mo.stop_signals = impl.options.stop_signals;
  mo.child_label = "pool worker";
  impl.manager = std::make_unique<detail::Manager>(std::move(mo), &impl.slots);
  for (int i = 0; i < impl.options.worker_num; ++i) {
    impl.manager->add_slot(detail::SlotKind::worker,
                           [&impl](int id) { return detail::run_pool_worker(*impl.self, impl, id); });
  }
  for (const auto& factory : impl.user_processes) {
    impl.manager->add_slot(detail::SlotKind::user, [&impl, &factory](int id) {
      return detail::run_user_process(*impl.self, impl, id, factory);
    });
  }

  detail::ManagerHooks hooks;
  hooks.on_start = [&impl] { if (impl.on_start) impl.on_start(*impl.self); };
  hooks.on_shutdown = [&impl] { if (impl.on_shutdown) impl.on_shutdown(*impl.self); };
  hooks.on_child_exit = [&impl](const detail::ChildExit& e) {
    if (impl.on_worker_error && (e.code != 0 || e.signal != 0)) impl.on_worker_error(*impl.self, WorkerExit{e.id, e.pid, e.code, e.signal});
  };
  impl.master_pid = ::getpid();
  // The calling process is the manager until start() returns (SIG-3 applies to its callbacks).
  const Role previous_role = current_role();
  set_current_role(Role::manager);
  Status st = impl.manager->run(hooks);
  set_current_role(previous_role);
  impl.master_pid = 0;
  impl.manager.reset();
  impl.pipes.clear();
  return st;
}

Status Pool::shutdown() {
  Impl& impl = *impl_;
  if (impl.master_pid == 0) return fail(errc::not_started, "shutdown: the pool is not running");
  if (impl.worker_id >= 0) {
    if (::kill(impl.master_pid, SIGTERM) != 0) return sys_fail(errno, "shutdown: kill(manager, SIGTERM)");
    return {};
  }
  if (impl.manager) impl.manager->request_shutdown();
  return {};
}

Status Pool::stop() {
  if (impl_->worker_id < 0) return fail(errc::wrong_role, "stop: only a worker or user process can stop itself");
  detail::request_stop();
  return {};
}

Status Pool::send_message(std::string_view data, int worker_id) {
  Impl& impl = *impl_;
  if (impl.master_pid == 0) return fail(errc::not_started, "send_message: the pool is not running");
  // POOL-6: an unknown id is an error for the caller, never a crash (Swoole segfaults here).
  if (!impl.has_slot(worker_id))
    return fail(errc::unknown_worker, "send_message: no worker " + std::to_string(worker_id) + " (the pool has ids 0.." +
                                          std::to_string(impl.options.worker_num + impl.user_count() - 1) + ")");
  if (!impl.has_pipe(worker_id))
    return fail(errc::no_pipe, "send_message: worker " + std::to_string(worker_id) + " has no pipe (needs ipc unixsock)");
  if (data.empty()) return fail(errc::payload_empty, "send_message: empty message");
  if (data.size() > impl.options.max_package_size)
    return fail(errc::payload_too_large, "send_message: " + std::to_string(data.size()) + " bytes exceeds max_package_size " +
                                             std::to_string(impl.options.max_package_size));
  const int fd = impl.pipes[static_cast<std::size_t>(worker_id)].first.get();
  for (;;) {
    if (::send(fd, data.data(), data.size(), MSG_NOSIGNAL) >= 0) return {};
    if (errno != EINTR) return sys_fail(errno, "send_message: send to worker " + std::to_string(worker_id));
  }
}

Status Pool::write(std::string_view data) {
  if (!impl_->response) return fail(errc::wrong_role, "write: only inside the Message callback of an ipc socket pool");
  if (data.empty()) return fail(errc::payload_empty, "write: empty data");
  impl_->response->append(data);
  return {};
}

Result<pid_t> Pool::get_process(int id) const {
  auto info = worker_info(id);
  if (!info) return forward_error(std::move(info).error());
  if (info->pid == 0) return fail(errc::not_started, "get_process: worker " + std::to_string(id) + " is not running");
  return info->pid;
}

Result<WorkerInfo> Pool::worker_info(int id) const {
  if (!impl_->has_slot(id)) return fail(errc::unknown_worker, "no worker " + std::to_string(id));
  const auto& s = impl_->slots[static_cast<std::size_t>(id)];
  return WorkerInfo{id, s.pid.load(), s.crash_count.load(), s.restarts.load(), s.last_exit_code.load(), s.last_signal.load()};
}

int Pool::worker_id() const noexcept { return impl_->worker_id; }
pid_t Pool::master_pid() const noexcept { return impl_->master_pid; }
bool Pool::running() const noexcept {
  if (impl_->worker_id >= 0) return !detail::stop_requested();
  return impl_->manager && impl_->manager->running();
}
int Pool::msgqueue_id() const noexcept { return impl_->msqid; }
int Pool::worker_num() const noexcept { return impl_->options.worker_num; }

}  // namespace procspec
