// Upload integrity headers: Content-MD5 and base64, and HTTP dates in responses.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vfs::s3 {

std::string base64(std::span<const unsigned char> bytes);
/* The Content-MD5 header value of @body: base64 of its MD5 digest. */
std::string contentMd5(std::span<const std::byte> body);
/* An RFC 7231 HTTP date ("Tue, 24 Nov 2026 20:13:33 GMT"), as in Last-Modified. */
std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text);

} /* namespace vfs::s3 */
