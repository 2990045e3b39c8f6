// Frame decoder throughput (FRM) against memcpy of the same bytes, in one program so the ratio
// comes from one run on one machine.
//
//   BM_FrameDecode_Length/N    length protocol ('N', body_offset 4), N-byte packets
//   BM_FrameDecode_EofSplit/N  eof_split on "\r\n", N-byte packets (EOF included)
//   BM_Memcpy/N                the floor: copying each N-byte packet of the same stream once
//
// The stream (~256 KiB of packets) is fed in 64000-byte reads, deliberately not a multiple of
// any packet size: packets straddling two reads are assembled in the decoder's buffer (a copy),
// the rest are handed out as views of the read. Every iteration checks the packet count and bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "procspec/framing.h"
#include "protocol/pack_code.h"
#include "support/context.h"

namespace {

using procspec::FrameDecoder;
using procspec::FramingSettings;

constexpr std::size_t kStreamTarget = 256 * 1024;
constexpr std::size_t kReadSize = 64000;

struct Stream {
  std::string bytes;
  std::size_t packets = 0;
};

// Printable bodies without '\r', so the only EOFs are the terminators.
char body_byte(std::size_t i) { return static_cast<char>('a' + (i * 7 + i / 13) % 26); }

Stream length_stream(std::size_t packet_size) {
  Stream s;
  const auto& pc = *procspec::detail::find_pack_code('N');
  while (s.bytes.size() < kStreamTarget || s.packets == 0) {
    std::string packet(packet_size, '\0');
    procspec::detail::write_length_field(pc, packet_size - 4, reinterpret_cast<unsigned char*>(packet.data()));
    for (std::size_t i = 4; i < packet_size; ++i) packet[i] = body_byte(i + s.packets);
    s.bytes += packet;
    ++s.packets;
  }
  return s;
}

Stream eof_stream(std::size_t packet_size) {
  Stream s;
  while (s.bytes.size() < kStreamTarget || s.packets == 0) {
    std::string packet(packet_size, '\0');
    for (std::size_t i = 0; i + 2 < packet_size; ++i) packet[i] = body_byte(i + s.packets);
    packet[packet_size - 2] = '\r';
    packet[packet_size - 1] = '\n';
    s.bytes += packet;
    ++s.packets;
  }
  return s;
}

void run_decoder(benchmark::State& state, const FramingSettings& settings, const Stream& stream) {
  FrameDecoder decoder(settings);
  std::size_t packets = 0;
  std::size_t bytes = 0;
  auto on_packet = [&](std::string_view p) {
    benchmark::DoNotOptimize(p.data());
    ++packets;
    bytes += p.size();
  };
  for (auto _ : state) {
    packets = 0;
    bytes = 0;
    for (std::size_t pos = 0; pos < stream.bytes.size(); pos += kReadSize) {
      const std::string_view read = std::string_view(stream.bytes).substr(pos, kReadSize);
      if (!decoder.feed(read, on_packet)) {
        state.SkipWithError("decoder closed a well-formed stream");
        return;
      }
    }
    if (packets != stream.packets || bytes != stream.bytes.size() || decoder.pending() != 0) {
      state.SkipWithError(("payload mismatch: " + std::to_string(packets) + " packets, " + std::to_string(bytes) +
                           " bytes").c_str());
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.bytes.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * stream.packets));
}

void BM_FrameDecode_Length(benchmark::State& state) {
  const auto packet_size = static_cast<std::size_t>(state.range(0));
  run_decoder(state, FramingSettings::length('N', 0, 4, 1 << 20).value(), length_stream(packet_size));
}

void BM_FrameDecode_EofSplit(benchmark::State& state) {
  const auto packet_size = static_cast<std::size_t>(state.range(0));
  run_decoder(state, FramingSettings::eof_split("\r\n", 1 << 20).value(), eof_stream(packet_size));
}

void BM_Memcpy(benchmark::State& state) {
  const auto packet_size = static_cast<std::size_t>(state.range(0));
  const Stream stream = length_stream(packet_size);
  std::vector<char> packet(packet_size);
  for (auto _ : state) {
    for (std::size_t pos = 0; pos < stream.bytes.size(); pos += packet_size) {
      std::memcpy(packet.data(), stream.bytes.data() + pos, packet_size);
      benchmark::ClobberMemory();
    }
    if (std::memcmp(packet.data(), stream.bytes.data() + stream.bytes.size() - packet_size, packet_size) != 0) {
      state.SkipWithError("memcpy mismatch");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.bytes.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * stream.packets));
}

BENCHMARK(BM_FrameDecode_Length)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_FrameDecode_EofSplit)->Arg(64)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Memcpy)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace

int main(int argc, char** argv) { return procspec::bench::run_main(argc, argv); }
