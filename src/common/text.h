// Small text helpers shared by the layers: hex digits and trimming.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace vfs {

/* The value of hex digit @c (either case), or -1. */
int hexValue(char c);
/* @bytes as lower-case hex. */
std::string toHex(std::span<const unsigned char> bytes);
/* @s without leading and trailing blanks (space, tab, CR, LF). */
std::string trim(std::string_view s);

} /* namespace vfs */
