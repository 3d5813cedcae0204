// The identity of a block of S3 object data.
#include "pool/content_key.h"

#include <openssl/evp.h>

#include "common/text.h"

namespace vfs::pool {

namespace {

void addField(EVP_MD_CTX *ctx, std::string_view field)
{
	/* Length-prefixed, so ("ab","c") and ("a","bc") differ. */
	std::uint64_t len = field.size();
	EVP_DigestUpdate(ctx, &len, sizeof(len));
	EVP_DigestUpdate(ctx, field.data(), field.size());
}

} /* namespace */

ContentKey ContentKey::forObjectBlock(std::string_view bucket, std::string_view key,
				      std::string_view etag, std::uint64_t blockIndex)
{
	ContentKey k;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
	addField(ctx, bucket);
	addField(ctx, key);
	addField(ctx, etag);
	EVP_DigestUpdate(ctx, &blockIndex, sizeof(blockIndex));
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, k.digest_.data(), &len);
	EVP_MD_CTX_free(ctx);
	return k;
}

std::string ContentKey::toHex() const
{
	return vfs::toHex(digest_);
}

} /* namespace vfs::pool */
