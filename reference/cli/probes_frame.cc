// `driver probe frame SPEC` (SPEC IUT, FRM-*): decodes stdin with the framing SPEC and prints one
// {"len","hex"} line per packet, then {"closed":REASON} if the stream was malformed. Each read()
// is fed as it came, so the chunking a user's pipe produces is the chunking the decoder sees.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "json.h"
#include "probe.h"
#include "procspec/framing.h"
#include "procspec/log.h"

namespace procspec::cli {
namespace {

int frame_probe(const Args& args) {
  if (args.size() != 1) return usage("probe frame SPEC   (none | length:TYPE:LOFF:BOFF:MAX | eof-split:HEX:MAX | eof-check:HEX:MAX)");
  auto settings = FramingSettings::parse(args[0]);
  if (!settings) {
    std::fprintf(stderr, "driver: probe frame: %s\n", settings.error().message.c_str());
    return kUsageError;
  }
  FrameDecoder decoder(*settings);
  LogCapture capture;  // the close reason is printed as JSON, not as a stray stderr line
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const ssize_t got = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      JsonLine().add("ok", false).add("errno", error_name(std::error_code(errno, std::system_category()))).print();
      return 1;
    }
    if (got == 0) return 0;
    auto status = decoder.feed(std::string_view(buf.data(), static_cast<std::size_t>(got)), [](std::string_view packet) {
      JsonLine().add("len", static_cast<long long>(packet.size())).add("hex", to_hex(packet)).print();
    });
    if (!status) {
      JsonLine().add("closed", status.error().message).add("warned", capture.warned()).print();
      return 0;
    }
  }
}

const ProbeRegistrar reg_frame{"frame", &frame_probe};

}  // namespace
}  // namespace procspec::cli
