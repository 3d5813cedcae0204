// The identity of a block of S3 object data: a digest of bucket, key, ETag and block index.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace vfs::pool {

/*
 * Clean blocks are keyed by what they contain, not by inode: the same ETag
 * means the same bytes, and a new ETag means a new key, so stale data can
 * never be served for a changed object. SHA-256 keeps keys collision-free
 * even for keys chosen by whoever writes the bucket.
 */
class ContentKey
{
public:
	static ContentKey forObjectBlock(std::string_view bucket, std::string_view key,
					 std::string_view etag, std::uint64_t blockIndex);

	bool operator==(const ContentKey &) const = default;
	std::size_t hash() const
	{
		std::size_t h;
		std::memcpy(&h, digest_.data(), sizeof(h));
		return h;
	}
	std::string toHex() const;

private:
	std::array<unsigned char, 32> digest_{};
};

struct ContentKeyHash {
	std::size_t operator()(const ContentKey &k) const { return k.hash(); }
};

} /* namespace vfs::pool */
