#include "procspec/server.h"

#include <sys/resource.h>
#include <unistd.h>

#include "procspec/log.h"
#include "server/server_core.h"

namespace procspec {
namespace detail {
namespace {
thread_local WorkerContext* tls_worker_context = nullptr;
}

WorkerContext* current_worker_context() noexcept { return tls_worker_context; }
void set_current_worker_context(WorkerContext* context) noexcept { tls_worker_context = context; }

ReactorOptions ServerCore::reactor_options(int reactor_id) const {
  ReactorOptions o;
  o.reactor_id = reactor_id;
  o.framing = framing;
  o.output_buffer_size = static_cast<std::size_t>(settings.output_buffer_size);
  o.max_conn = settings.max_conn;
  o.heartbeat_idle = std::chrono::milliseconds(static_cast<long long>(settings.heartbeat_idle_time * 1000));
  o.heartbeat_interval = std::chrono::milliseconds(static_cast<long long>(settings.heartbeat_check_interval * 1000));
  return o;
}

}  // namespace detail

Result<std::unique_ptr<Server>> Server::create(std::string host, int port, ServerMode mode, SockType sock_type) {
  if (port < 0 || port > 65535) return fail(errc::invalid_argument, "port " + std::to_string(port) + " is outside 0..65535");
  if (mode != ServerMode::base && mode != ServerMode::process && mode != ServerMode::thread)
    return fail(errc::invalid_argument, "mode " + std::to_string(static_cast<int>(mode)) + " is not BASE(1), PROCESS(2) or THREAD(3)");
  auto core = std::make_unique<detail::ServerCore>();
  core->host = std::move(host);
  core->requested_port = port;
  core->mode = mode;
  core->sock_type = sock_type;
  core->settings = ServerSettings::defaults(mode);
  std::unique_ptr<Server> server(new Server(std::move(core)));
  server->core_->facade = server.get();
  return server;
}

Server::Server(std::unique_ptr<detail::ServerCore> core) : core_(std::move(core)) {}
Server::~Server() = default;

Status Server::set(std::string_view key, const SettingValue& value) {
  if (core_->started) return fail(errc::already_started, "set " + std::string(key) + ": the server is already started");
  return core_->settings.set(key, value);
}

Status Server::set(std::initializer_list<std::pair<std::string_view, SettingValue>> values) {
  if (core_->started) return fail(errc::already_started, "set: the server is already started");
  return core_->settings.set(values);
}

const ServerSettings& Server::settings() const noexcept { return core_->settings; }
ServerEvents& Server::events() noexcept { return core_->events; }

Status Server::start() {
  if (core_->started.exchange(true)) return fail(errc::already_started, "start: the server is already started");
  if (!core_->events.on_receive) return fail(errc::invalid_setting, "start: the Receive event is required");
  auto framing = core_->settings.finalize();
  if (!framing) return forward_error(std::move(framing).error());
  core_->framing = *framing;
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
      static_cast<rlim_t>(core_->settings.max_conn) > nofile.rlim_cur) {
    // SRV-15: a limit the process cannot reach is a configuration error, said before serving.
    return fail(errc::invalid_setting, "max_conn " + std::to_string(core_->settings.max_conn) +
                                           " is above the open-file limit " + std::to_string(nofile.rlim_cur) +
                                           " (ulimit -n)");
  }
  auto listener = detail::open_listener(core_->host, core_->requested_port, core_->sock_type);
  if (!listener) return forward_error(std::move(listener).error());
  core_->listen_fd = std::move(listener->first);
  core_->port = listener->second;
  auto count = detail::ConnectionCount::create_shared();
  if (!count) return forward_error(std::move(count).error());
  core_->conn_count = *count;
  switch (core_->mode) {
    case ServerMode::base: core_->runner = detail::make_base_mode(); break;
    case ServerMode::process: core_->runner = detail::make_process_mode(); break;
    case ServerMode::thread: core_->runner = detail::make_thread_mode(); break;
  }
  auto st = core_->runner->run(*core_);
  core_->listen_fd.reset();
  return st;
}

Status Server::send(std::uint64_t fd, std::string_view data) {
  auto* ctx = detail::current_worker_context();
  if (!ctx) return fail(errc::wrong_role, "send: only a worker can send to a connection");
  return ctx->send(fd, data);
}

Status Server::close(std::uint64_t fd) {
  auto* ctx = detail::current_worker_context();
  if (!ctx) return fail(errc::wrong_role, "close: only a worker can close a connection");
  return ctx->close(fd);
}

Status Server::send_message(std::string_view message, int dst_worker_id) {
  auto* ctx = detail::current_worker_context();
  if (!ctx) return fail(errc::wrong_role, "send_message: only a worker can send a pipe message");
  if (dst_worker_id < 0 || dst_worker_id >= core_->settings.worker_num)
    return fail(errc::unknown_worker, "send_message: no worker " + std::to_string(dst_worker_id) + " (worker_num " +
                                          std::to_string(core_->settings.worker_num) + ")");
  return ctx->send_message(message, dst_worker_id);
}

Status Server::shutdown() {
  if (!core_->runner) return fail(errc::not_started, "shutdown: the server is not running");
  return core_->runner->shutdown();
}

Status Server::reload() {
  if (!core_->runner) return fail(errc::not_started, "reload: the server is not running");
  return core_->runner->reload();
}

int Server::port() const noexcept { return core_->port; }
ServerMode Server::mode() const noexcept { return core_->mode; }
int Server::worker_id() const noexcept {
  auto* ctx = detail::current_worker_context();
  return ctx ? ctx->worker_id() : -1;
}
pid_t Server::master_pid() const noexcept { return core_->master_pid; }
pid_t Server::manager_pid() const noexcept { return core_->manager_pid; }

}  // namespace procspec
