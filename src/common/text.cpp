// Small text helpers shared by the layers.
#include "common/text.h"

namespace vfs {

int hexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

std::string toHex(std::span<const unsigned char> bytes)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	s.reserve(bytes.size() * 2);
	for (unsigned char b : bytes) {
		s += digits[b >> 4];
		s += digits[b & 0xf];
	}
	return s;
}

std::string trim(std::string_view s)
{
	auto b = s.find_first_not_of(" \t\r\n");
	if (b == std::string_view::npos)
		return {};
	auto e = s.find_last_not_of(" \t\r\n");
	return std::string(s.substr(b, e - b + 1));
}

} /* namespace vfs */
