// The AWS credentials a request is signed with (the chain that finds them lives elsewhere).
#pragma once

#include <string>

namespace vfs::s3 {

/*
 * An access key pair, plus the session token that comes with temporary
 * credentials (STS, EC2 instance roles). No key at all means anonymous
 * access: requests to public buckets go out unsigned.
 */
struct Credentials {
	std::string accessKeyId;
	std::string secretAccessKey;
	std::string sessionToken;

	bool anonymous() const { return accessKeyId.empty() && secretAccessKey.empty(); }
};

} /* namespace vfs::s3 */
