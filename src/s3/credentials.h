// AWS credentials: an access key pair, with a session token for temporary ones.
#pragma once

#include <string>

namespace vfs::s3 {

struct Credentials {
	std::string accessKeyId;
	std::string secretAccessKey;
	std::string sessionToken;

	/* No key at all: requests go unsigned (public buckets). */
	bool anonymous() const { return accessKeyId.empty(); }
};

} /* namespace vfs::s3 */
