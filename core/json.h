// JSON text for the small files the project writes by hand (manifests,
// metadata, stats): a string quoted and escaped per RFC 8259.
#ifndef ROBOFLEET_CORE_JSON_H_
#define ROBOFLEET_CORE_JSON_H_

#include <string>

namespace robofleet {

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

// `x` as a JSON number with the digits that read back as the same double
// (17 significant digits); non-finite values as null.
std::string JsonNumber(double x);

}  // namespace robofleet

#endif  // ROBOFLEET_CORE_JSON_H_
