// Which S3 key components can be shown as POSIX file names.
#pragma once

#include <string_view>

namespace vfs::fs {

/* Linux NAME_MAX: longer components cannot be a directory entry. */
inline constexpr std::size_t kMaxNameBytes = 255;

/*
 * True if @name can be a directory entry: not empty, not "." or "..", no '/',
 * no NUL, at most kMaxNameBytes bytes. Keys with other components (a//b, a/../b)
 * are skipped by listings and logged.
 */
bool isValidName(std::string_view name);

} /* namespace vfs::fs */
