#pragma once
// A one-line JSON object writer for driver output; keys keep insertion order.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace procspec::cli {

class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value);
  JsonLine& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, bool value);
  JsonLine& add(std::string_view key, long long value);
  JsonLine& add(std::string_view key, int value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(std::string_view key, long value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(std::string_view key, unsigned long value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(std::string_view key, const std::vector<std::string>& values);
  JsonLine& add(std::string_view key, const std::vector<long long>& values);
  JsonLine& add_null(std::string_view key);
  JsonLine& add_raw(std::string_view key, std::string_view json);

  std::string str() const { return "{" + body_ + "}"; }
  // Writes the object and a newline to stdout and flushes (probes may fork afterwards).
  void print() const;

 private:
  void key(std::string_view k);
  std::string body_;
};

// JSON string literal with quotes; bytes outside printable ASCII are \u00XX escapes.
std::string json_quote(std::string_view s);
std::string to_hex(std::string_view bytes);

}  // namespace procspec::cli
