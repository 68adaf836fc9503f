#include "core/tensorboard.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/config.h"
#include "core/crc32c.h"

namespace robofleet {
namespace {

// ---- protobuf wire encoding, just what is needed ----

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutKey(std::string* out, int field, int wire_type) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | wire_type);
}

void PutBytes(std::string* out, int field, const std::string& bytes) {
  PutKey(out, field, 2);
  PutVarint(out, bytes.size());
  out->append(bytes);
}

void PutDouble(std::string* out, int field, double v) {
  PutKey(out, field, 1);
  char buf[8];
  std::memcpy(buf, &v, 8);
  out->append(buf, 8);
}

void PutFloat(std::string* out, int field, float v) {
  PutKey(out, field, 5);
  char buf[4];
  std::memcpy(buf, &v, 4);
  out->append(buf, 4);
}

void PutInt(std::string* out, int field, int64_t v) {
  PutKey(out, field, 0);
  PutVarint(out, static_cast<uint64_t>(v));
}

double WallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Event { wall_time = 1; step = 2; file_version = 3 | summary = 5 }
std::string Event(int64_t step, int field, const std::string& payload) {
  std::string e;
  PutDouble(&e, 1, WallTime());
  PutInt(&e, 2, step);
  PutBytes(&e, field, payload);
  return e;
}

uint32_t MaskedCrc(const void* data, size_t size) {
  uint32_t crc = Crc32c(data, size);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(WallTime())) + "." +
          host + "." + std::to_string(getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) throw UserError(path_ + ": cannot create the TensorBoard event file");
  WriteEvent(Event(0, 3, "brain.Event:2"));
  Flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TensorBoardWriter::AddScalar(const std::string& tag, int64_t step, double value) {
  // Summary { value = 1: Value { tag = 1; simple_value = 2 } }
  std::string v;
  PutBytes(&v, 1, tag);
  PutFloat(&v, 2, static_cast<float>(value));
  std::string summary;
  PutBytes(&summary, 1, v);
  WriteEvent(Event(step, 5, summary));
}

void TensorBoardWriter::AddText(const std::string& tag, int64_t step, const std::string& text) {
  // Value { tag = 1; metadata = 9: { plugin_data = 1: { plugin_name = 1: "text" } };
  //         tensor = 8: TensorProto { dtype = 1: DT_STRING (7); tensor_shape = 2: {};
  //                                   string_val = 8 } }
  std::string plugin_data, metadata, tensor, v, summary;
  PutBytes(&plugin_data, 1, "text");
  PutBytes(&metadata, 1, plugin_data);
  PutInt(&tensor, 1, 7);
  PutBytes(&tensor, 2, "");
  PutBytes(&tensor, 8, text);
  PutBytes(&v, 1, tag);
  PutBytes(&v, 9, metadata);
  PutBytes(&v, 8, tensor);
  PutBytes(&summary, 1, v);
  WriteEvent(Event(step, 5, summary));
}

void TensorBoardWriter::Flush() { std::fflush(file_); }

void TensorBoardWriter::WriteEvent(const std::string& event) {
  // record: u64 length, masked crc of the length, payload, masked crc of the payload
  const uint64_t length = event.size();
  const uint32_t length_crc = MaskedCrc(&length, sizeof(length));
  const uint32_t data_crc = MaskedCrc(event.data(), event.size());
  std::fwrite(&length, sizeof(length), 1, file_);
  std::fwrite(&length_crc, sizeof(length_crc), 1, file_);
  std::fwrite(event.data(), 1, event.size(), file_);
  std::fwrite(&data_crc, sizeof(data_crc), 1, file_);
}

}  // namespace robofleet
