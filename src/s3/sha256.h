// SHA-256 and HMAC-SHA256 over OpenSSL, as SigV4 and payload hashing need them.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "common/text.h"

namespace vfs::s3 {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::span<const std::byte> data);
Sha256Digest sha256(std::string_view data);
Sha256Digest hmacSha256(std::span<const unsigned char> key, std::string_view data);
using vfs::toHex;

} /* namespace vfs::s3 */
