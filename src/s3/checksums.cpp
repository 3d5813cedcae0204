// Upload integrity headers and HTTP dates.
#include "s3/checksums.h"

#include <ctime>
#include <iomanip>
#include <sstream>

#include <openssl/evp.h>

namespace vfs::s3 {

std::string base64(std::span<const unsigned char> bytes)
{
	std::string out(4 * ((bytes.size() + 2) / 3), '\0');
	int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()), bytes.data(),
				static_cast<int>(bytes.size()));
	out.resize(static_cast<std::size_t>(n));
	return out;
}

std::string contentMd5(std::span<const std::byte> body)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_Digest(body.data(), body.size(), digest, &len, EVP_md5(), nullptr);
	return base64({ digest, len });
}

std::optional<std::chrono::system_clock::time_point> parseHttpDate(std::string_view text)
{
	std::tm tm{};
	std::istringstream in{ std::string(text) };
	in.imbue(std::locale::classic());
	in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
	if (in.fail())
		return std::nullopt;
	return std::chrono::system_clock::from_time_t(timegm(&tm));
}

} /* namespace vfs::s3 */
