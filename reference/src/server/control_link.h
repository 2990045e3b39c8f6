#pragma once
// The PROCESS master and its manager talk over one SOCK_SEQPACKET socketpair: the manager says
// which worker died (it holds the restart), the master answers once its reactors settled that
// worker's connections and channel, and the manager starts the replacement.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <utility>

#include "procspec/result.h"
#include "procspec/unique_fd.h"

namespace procspec::detail {

struct ControlMessage {
  enum class Type : std::int32_t { worker_exited = 1, release_worker = 2 };
  Type type;
  std::int32_t worker;
  std::int32_t pid;
  std::int32_t code;
  std::int32_t signal;
};

// {master end, manager end}, both close-on-exec.
Result<std::pair<UniqueFd, UniqueFd>> make_control_link();
Status send_control(int fd, const ControlMessage& message);
// A message, nullopt when nothing is waiting, or peer_closed when the other side is gone.
Result<std::optional<ControlMessage>> receive_control(int fd);

}  // namespace procspec::detail
