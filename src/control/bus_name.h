// The D-Bus names an instance owns and serves (DESIGN.md §7).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vfs::control {

inline constexpr std::string_view kBusNamePrefix = "org.vfs.Vfs1.";
inline constexpr std::string_view kObjectPath = "/org/vfs/Vfs1";
inline constexpr std::string_view kInterface = "org.vfs.Vfs1.Mount";

/*
 * The well-known name of instance @instance: org.vfs.Vfs1.<label>, the label
 * escaped as sd_bus_path_encode() escapes a path element, so any instance name
 * ("photos", "my-bucket", "2024") gives a valid, unique bus name.
 */
Result<std::string> busNameForInstance(std::string_view instance);

/* The instance a bus name belongs to ("org.vfs.Vfs1.my_2dbucket" -> "my-bucket"); none if not ours. */
std::optional<std::string> instanceForBusName(std::string_view busName);

} /* namespace vfs::control */
