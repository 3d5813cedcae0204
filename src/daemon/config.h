// vfsd's configuration: /etc/vfs/NAME.conf (vfs.conf(5)) plus --set overrides, validated.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace vfs::daemon {

enum class BusKind { System, Session, None };

struct Config {
	std::string instance; /* the config file's name without .conf */

	/* S3 */
	std::string bucket;
	std::string endpoint;
	std::string region = "us-east-1";
	bool pathStyle = false;
	std::string caBundle;
	unsigned maxConnections = 16;
	bool unsignedPayload = false;

	/* Credentials (see CredentialsConfig) */
	std::string accessKeyId;
	std::string secretAccessKey;
	std::string sessionToken;
	std::string credentialsFile;
	std::string profile;
	bool useImds = false;

	/* Mount */
	std::string mountpoint;
	bool allowOther = false;
	std::optional<std::uint32_t> uid;
	std::optional<std::uint32_t> gid;
	std::uint32_t umask = 0022;
	bool readOnly = false;

	/* Memory and caching */
	std::uint64_t memoryLimit = std::uint64_t(512) << 20;
	std::uint64_t chunkSize = std::uint64_t(256) << 20;
	std::uint64_t partSize = std::uint64_t(8) << 20;
	/* Readahead window ceiling on sequential reads (0: off), and its GETs in flight per file. */
	std::uint64_t readahead = std::uint64_t(64) << 20;
	unsigned readThreads = 4;
	/* Parts uploaded at once per file; whole parts of new files go while they are written. */
	unsigned uploadThreads = 4;
	bool streamUploads = true;
	std::chrono::milliseconds metadataTtl{ 1000 };
	/* HEADs in flight for one directory listing (0: none, stat() asks per file); at most maxConnections. */
	unsigned metadataRequests = 16;

	/* Service */
	BusKind bus = BusKind::System;
	std::string stateDirectory;
};

/*
 * Reads @path, applies @overrides (--set KEY=VALUE) on top and validates the
 * result. Every error is one line naming the file, the key and why, e.g.
 * "/etc/vfs/a.conf: memory_limit: '12Q' is not a size (use 512M, 2G, ...)".
 * A file that holds a secret must not be readable by other users.
 */
Result<Config> loadConfig(const std::string &path,
			  const std::vector<std::pair<std::string, std::string>> &overrides);

/* Parses "4096", "512K", "512M", "2G", "1T" (binary units). */
std::optional<std::uint64_t> parseSize(const std::string &text);

} /* namespace vfs::daemon */
