#include "server/base_worker.h"

#include <string>

#include "procspec/log.h"
#include "procspec/timer.h"
#include "server/server_threads.h"

namespace procspec::detail {
namespace {

thread_local BaseWorker* t_running = nullptr;

}  // namespace

BaseWorker::BaseWorker(ServerCore& core, int worker_id, std::span<const std::unique_ptr<Mailbox>> thread_inboxes)
    : core_(core), id_(worker_id), thread_inboxes_(thread_inboxes) {}

BaseWorker::~BaseWorker() {
  if (current_worker_context() == this) set_current_worker_context(nullptr);
  if (t_running == this) t_running = nullptr;
}

void BaseWorker::stop_current() {
  if (t_running) t_running->begin_stop();
}

Status BaseWorker::run() {
  auto loop = EventLoop::create();
  if (!loop) return forward_error(std::move(loop).error());
  loop_ = std::move(*loop);
  reactor_.emplace(*loop_, core_.reactor_options(id_ % kMaxReactors), *this, core_.conn_count);
  if (auto st = reactor_->listen_on(core_.listen_fd.get()); !st) return st;
  if (core_.services && !is_thread()) {  // task workers and process inboxes: processes only
    auto services = WorkerServices::attach(core_, id_, loop_.get());
    if (!services) return forward_error(std::move(services).error());
    services_ = std::move(*services);
  }
  if (is_thread()) {
    if (auto st = thread_inboxes_[static_cast<std::size_t>(id_)]->attach(*loop_); !st) return st;
  } else if (auto st = take_sigterm_as_stop([this] { begin_stop(); }); !st) {
    return st;
  }
  t_running = this;
  set_current_worker_context(this);
  if (core_.events.on_worker_start) core_.events.on_worker_start(*core_.facade, id_);
  auto st = loop_->run();
  if (core_.events.on_worker_stop) core_.events.on_worker_stop(*core_.facade, id_);
  set_current_worker_context(nullptr);
  t_running = nullptr;
  if (is_thread()) {
    thread_inboxes_[static_cast<std::size_t>(id_)]->detach();
  } else {
    release_sigterm_stop();
  }
  services_.reset();
  reactor_.reset();
  loop_.reset();
  return st;
}

void BaseWorker::begin_stop() {
  if (stopping_ || !reactor_) return;
  stopping_ = true;
  reactor_->stop_accepting();
  // Requests the clients already sent are in our sockets: read and answer them before closing.
  reactor_->drain_reads();
  // SRV-11: results of tasks this worker sent still reach Finish (which may answer a client), so
  // the connections stay open until they are in (or max_wait_time passes).
  if (services_ && services_->outstanding_tasks() > 0) {
    services_->set_on_tasks_done([this] { close_connections(); });
  } else {
    reactor_->close_all();
  }
  const auto grace = static_cast<std::int64_t>(core_.settings.max_wait_time * 1000);
  // Clients that never read their answers must not hold the worker forever.
  (void)Timer::after(std::max<std::int64_t>(1, grace), [this] {
    log_warn("worker " + std::to_string(id_) + ": max_wait_time passed with " + std::to_string(reactor_->size()) +
             " connections still flushing and " + std::to_string(services_ ? services_->outstanding_tasks() : 0) +
             " task results outstanding; closing them");
    reactor_->for_each_session([this](std::uint64_t s) { reactor_->abort(s); });
    loop_->stop();
  });
  stop_when_idle();
}

void BaseWorker::close_connections() {
  reactor_->close_all();
  stop_when_idle();
}

void BaseWorker::stop_when_idle() {
  if (stopping_ && reactor_->size() == 0 && (!services_ || services_->outstanding_tasks() == 0)) loop_->stop();
}

void BaseWorker::on_connect(Connection& conn) {
  if (core_.events.on_connect) core_.events.on_connect(*core_.facade, conn.session_id, conn.reactor_id);
}

void BaseWorker::on_packet(Connection& conn, std::string_view packet) {
  core_.events.on_receive(*core_.facade, conn.session_id, conn.reactor_id, packet);
  ++requests_;
  if (core_.settings.max_request > 0 && requests_ >= core_.settings.max_request && !stopping_) {
    // SRV-6: recycle the worker; what was received is answered first, the manager starts a new one.
    log_info("worker " + std::to_string(id_) + " reached max_request " + std::to_string(core_.settings.max_request));
    loop_->defer([this] { begin_stop(); });
  }
}

void BaseWorker::on_close(Connection& conn) {
  if (core_.events.on_close) core_.events.on_close(*core_.facade, conn.session_id, conn.reactor_id);
  if (stopping_) loop_->defer([this] { stop_when_idle(); });
}

Status BaseWorker::send(std::uint64_t session, std::string_view data) { return reactor_->send(session, data); }
Status BaseWorker::close(std::uint64_t session) { return reactor_->close(session); }

Status BaseWorker::send_message(std::string_view message, int dst_worker_id) {
  if (services_) return services_->send_message(message, dst_worker_id);
  if (is_thread()) return post_pipe_message(message, dst_worker_id);
  return fail(errc::not_started, "send_message: the worker's inbox is not attached");
}

Status BaseWorker::post_pipe_message(std::string_view message, int dst_worker_id) {
  if (dst_worker_id == id_) {
    return fail(errc::invalid_argument, "send_message: worker " + std::to_string(id_) + " cannot send a message to itself");
  }
  if (!core_.events.on_pipe_message) {
    return fail(errc::invalid_setting, "send_message: the PipeMessage event (on_pipe_message) is not set");
  }
  // Runs on the destination thread, where current_worker_context() is that worker: its
  // handler's send() reaches the destination's own connections.
  thread_inboxes_[static_cast<std::size_t>(dst_worker_id)]->post(
      [&core = core_, src = id_, payload = std::string(message)] { core.events.on_pipe_message(*core.facade, src, payload); });
  return {};
}

}  // namespace procspec::detail
