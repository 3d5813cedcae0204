// S3ObjectStore: the ObjectStore seam over the real S3 client, call for call.
#pragma once

#include "fs/object_store.h"

namespace vfs::s3 {
class S3Client;
} /* namespace vfs::s3 */

namespace vfs::fs {

/*
 * Thin: each call is the S3Client operation of the same name, with S3's
 * typed errors turned into errno by s3::toErrno() (the message keeps the S3
 * error for logs). Two calls do a little more: removeMany() batches by
 * kMaxDeleteBatch and deletes keys that cannot travel in XML one by one,
 * and listUploads() follows every page. The client is borrowed.
 */
class S3ObjectStore : public ObjectStore
{
public:
	explicit S3ObjectStore(s3::S3Client &client);

	Result<void> checkBucket() override;
	Result<ListPage> list(const ListRequest &request) override;
	Result<ObjectHead> head(const std::string &key) override;
	Result<GetResult> get(const std::string &key, std::uint64_t offset, std::span<std::byte> into,
			      const std::string &ifMatch) override;
	Result<std::string> put(const std::string &key, std::span<const std::byte> body,
				const PutOptions &options) override;
	Result<std::string> copy(const std::string &sourceKey, const std::string &key, MetadataMode mode,
				 const PutOptions &options) override;
	Result<void> remove(const std::string &key) override;
	Result<std::vector<KeyError>> removeMany(const std::vector<std::string> &keys) override;
	Result<std::string> createUpload(const std::string &key, const PutOptions &options) override;
	Result<std::string> uploadPart(const std::string &key, const std::string &uploadId, unsigned partNumber,
				       std::span<const std::byte> body) override;
	Result<std::string> uploadPartCopy(const std::string &key, const std::string &uploadId,
					   unsigned partNumber, const std::string &sourceKey, std::uint64_t offset,
					   std::uint64_t length, const std::string &sourceEtag) override;
	Result<std::string> completeUpload(const std::string &key, const std::string &uploadId,
					   const std::vector<UploadedPart> &parts) override;
	Result<void> abortUpload(const std::string &key, const std::string &uploadId) override;
	Result<std::vector<PendingUpload>> listUploads(const std::string &prefix) override;

private:
	s3::S3Client &client_;
};

} /* namespace vfs::fs */
