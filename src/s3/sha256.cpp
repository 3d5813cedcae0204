// SHA-256 and HMAC-SHA256 over OpenSSL.
#include "s3/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace vfs::s3 {

Sha256Digest sha256(std::span<const std::byte> data)
{
	Sha256Digest out{};
	unsigned int len = 0;
	EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
	return out;
}

Sha256Digest sha256(std::string_view data)
{
	return sha256(std::as_bytes(std::span(data.data(), data.size())));
}

Sha256Digest hmacSha256(std::span<const unsigned char> key, std::string_view data)
{
	Sha256Digest out{};
	unsigned int len = 0;
	HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
	     reinterpret_cast<const unsigned char *>(data.data()), data.size(),
	     out.data(), &len);
	return out;
}

} /* namespace vfs::s3 */
