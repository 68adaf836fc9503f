// A flat record of trivially copyable values and length-prefixed strings, for
// state saved and read back on the same kind of machine (native byte order).
#ifndef ROBOFLEET_CORE_BYTES_H_
#define ROBOFLEET_CORE_BYTES_H_

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace robofleet {

class ByteWriter {
 public:
  template <class T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(&value, sizeof(T));
  }
  void PutBytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  // A string with its length in front.
  void PutString(std::string_view s) {
    Put<uint64_t>(s.size());
    PutBytes(s.data(), s.size());
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Reads what a ByteWriter wrote, in the same order. Throws std::runtime_error
// when the record ends early.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  template <class T>
  T Get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, Take(sizeof(T)).data(), sizeof(T));
    return value;
  }
  std::string_view Take(size_t n) {
    if (n > in_.size()) throw std::runtime_error("saved state ends early");
    std::string_view out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }
  std::string_view GetString() { return Take(Get<uint64_t>()); }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_BYTES_H_
