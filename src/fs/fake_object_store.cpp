// FakeObjectStore: S3's listing, ETag, metadata, conditional and multipart rules over a std::map.
#include "common/text.h"
#include "fs/fake_object_store.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

#include <openssl/evp.h>

namespace vfs::fs {

namespace {

using Digest = std::array<unsigned char, 16>;

Digest md5(std::span<const std::byte> data)
{
	Digest d{};
	unsigned int len = 0;
	/* MD5 cannot fail for an in-memory buffer; a zero digest would show in tests. */
	EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_md5(), nullptr);
	return d;
}

std::string quoted(std::string_view s)
{
	return "\"" + std::string(s) + "\"";
}

/* ETags compare without their quotes: RGW sends some bare. */
std::string_view unquoted(std::string_view etag)
{
	if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
		return etag.substr(1, etag.size() - 2);
	return etag;
}

bool sameEtag(std::string_view a, std::string_view b)
{
	return unquoted(a) == unquoted(b);
}

bool startsWith(std::string_view s, std::string_view prefix)
{
	return s.substr(0, prefix.size()) == prefix;
}

/* The smallest string greater than every string starting with @prefix; "" if there is none. */
std::string prefixEnd(std::string prefix)
{
	while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff)
		prefix.pop_back();
	if (!prefix.empty())
		prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
	return prefix;
}

/*
 * Continuation tokens: the kind ('k' key, 'p' common prefix) and the last
 * item returned, hex-encoded so that nobody mistakes them for keys.
 */
std::string encodeToken(char kind, const std::string &item)
{
	std::string raw(1, kind);
	raw += item;
	return vfs::toHex(std::span(reinterpret_cast<const unsigned char *>(raw.data()), raw.size()));
}

std::optional<std::pair<char, std::string>> decodeToken(std::string_view token)
{
	auto nibble = [](char c) -> int {
		if (c >= '0' && c <= '9')
			return c - '0';
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		return -1;
	};
	if (token.size() < 2 || token.size() % 2 != 0)
		return std::nullopt;
	std::string raw;
	for (std::size_t i = 0; i < token.size(); i += 2) {
		int hi = nibble(token[i]);
		int lo = nibble(token[i + 1]);
		if (hi < 0 || lo < 0)
			return std::nullopt;
		raw += static_cast<char>(hi * 16 + lo);
	}
	if (raw[0] != 'k' && raw[0] != 'p')
		return std::nullopt;
	return std::pair{ raw[0], raw.substr(1) };
}

Metadata normalized(const Metadata &metadata)
{
	Metadata m;
	for (const auto &[name, value] : metadata) {
		std::string lower(name);
		std::transform(lower.begin(), lower.end(), lower.begin(),
			       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
		m[lower] = value;
	}
	return m;
}

std::size_t metadataBytes(const Metadata &metadata)
{
	std::size_t n = 0;
	for (const auto &[name, value] : metadata)
		n += name.size() + value.size();
	return n;
}

} /* namespace */

std::string_view toString(FakeObjectStore::Op op)
{
	switch (op) {
	case FakeObjectStore::Op::CheckBucket: return "CheckBucket";
	case FakeObjectStore::Op::List: return "List";
	case FakeObjectStore::Op::Head: return "Head";
	case FakeObjectStore::Op::Get: return "Get";
	case FakeObjectStore::Op::Put: return "Put";
	case FakeObjectStore::Op::Copy: return "Copy";
	case FakeObjectStore::Op::Remove: return "Remove";
	case FakeObjectStore::Op::RemoveMany: return "RemoveMany";
	case FakeObjectStore::Op::CreateUpload: return "CreateUpload";
	case FakeObjectStore::Op::UploadPart: return "UploadPart";
	case FakeObjectStore::Op::UploadPartCopy: return "UploadPartCopy";
	case FakeObjectStore::Op::CompleteUpload: return "CompleteUpload";
	case FakeObjectStore::Op::AbortUpload: return "AbortUpload";
	case FakeObjectStore::Op::ListUploads: return "ListUploads";
	}
	return "?";
}

std::uint64_t FakeObjectStore::Stats::bytesUploaded() const
{
	std::uint64_t n = 0;
	for (const OpStats &s : ops)
		n += s.bytesUploaded;
	return n;
}

std::uint64_t FakeObjectStore::Stats::bytesCopied() const
{
	std::uint64_t n = 0;
	for (const OpStats &s : ops)
		n += s.bytesCopied;
	return n;
}

std::uint64_t FakeObjectStore::Stats::bytesDownloaded() const
{
	std::uint64_t n = 0;
	for (const OpStats &s : ops)
		n += s.bytesDownloaded;
	return n;
}

FakeObjectStore::FakeObjectStore() = default;

FakeObjectStore::~FakeObjectStore() = default;

void FakeObjectStore::setPageSize(unsigned keys)
{
	std::lock_guard lock(mutex_);
	pageSize_ = std::max(keys, 1u);
}

void FakeObjectStore::setMinPartSize(std::uint64_t bytes)
{
	std::lock_guard lock(mutex_);
	minPartSize_ = bytes;
}

void FakeObjectStore::setUploadPartCopySupported(bool supported)
{
	std::lock_guard lock(mutex_);
	partCopySupported_ = supported;
}

void FakeObjectStore::failNext(Op op, int errnum, unsigned count)
{
	std::lock_guard lock(mutex_);
	if (count > 0)
		faults_.push_back({ op, errnum, count });
}

void FakeObjectStore::setFaultHook(FaultHook hook)
{
	std::lock_guard lock(mutex_);
	hook_ = std::move(hook);
}

void FakeObjectStore::setGetDelay(std::chrono::milliseconds delay)
{
	std::lock_guard lock(mutex_);
	getDelay_ = delay;
}

void FakeObjectStore::setClock(Clock clock)
{
	std::lock_guard lock(mutex_);
	clock_ = std::move(clock);
}

FakeObjectStore::Stats FakeObjectStore::stats() const
{
	std::lock_guard lock(mutex_);
	return stats_;
}

void FakeObjectStore::resetStats()
{
	std::lock_guard lock(mutex_);
	stats_ = Stats{};
}

std::optional<std::vector<std::byte>> FakeObjectStore::contents(const std::string &key) const
{
	std::lock_guard lock(mutex_);
	auto it = objects_.find(key);
	if (it == objects_.end())
		return std::nullopt;
	return *it->second.data;
}

std::optional<ObjectHead> FakeObjectStore::object(const std::string &key) const
{
	std::lock_guard lock(mutex_);
	auto it = objects_.find(key);
	if (it == objects_.end())
		return std::nullopt;
	const Object &o = it->second;
	return ObjectHead{ o.data->size(), o.etag, o.lastModified, o.contentType, o.metadata };
}

std::vector<std::string> FakeObjectStore::keys() const
{
	std::lock_guard lock(mutex_);
	std::vector<std::string> k;
	k.reserve(objects_.size());
	for (const auto &entry : objects_)
		k.push_back(entry.first);
	return k;
}

std::size_t FakeObjectStore::uploadsInProgress() const
{
	std::lock_guard lock(mutex_);
	return uploads_.size();
}

std::optional<Error> FakeObjectStore::enter(Op op, const std::string &key)
{
	FaultHook hook;
	{
		std::lock_guard lock(mutex_);
		stats_[op].calls++;
		for (auto it = faults_.begin(); it != faults_.end(); ++it) {
			if (it->op != op)
				continue;
			int errnum = it->errnum;
			if (--it->remaining == 0)
				faults_.erase(it);
			return fail(op, errnum, "injected failure");
		}
		hook = hook_;
	}
	if (hook) {
		if (int errnum = hook(op, key); errnum != 0) {
			std::lock_guard lock(mutex_);
			return fail(op, errnum, "injected failure (hook)");
		}
	}
	return std::nullopt;
}

Error FakeObjectStore::fail(Op op, int errnum, std::string message)
{
	stats_[op].failures++;
	return Error(errnum, std::string(toString(op)) + ": " + message);
}

Timestamp FakeObjectStore::now() const
{
	Timestamp t = clock_ ? clock_() : std::chrono::system_clock::now();
	/* Last-Modified has whole seconds. */
	return std::chrono::floor<std::chrono::seconds>(t);
}

Result<void> FakeObjectStore::checkBucket()
{
	if (auto e = enter(Op::CheckBucket, {}))
		return *e;
	return {};
}

Result<ListPage> FakeObjectStore::list(const ListRequest &request)
{
	if (auto e = enter(Op::List, request.prefix))
		return *e;
	std::lock_guard lock(mutex_);

	const std::string &prefix = request.prefix;
	const std::string &delimiter = request.delimiter;
	unsigned maxKeys = std::min(pageSize_, request.maxKeys == 0 ? 1000u : request.maxKeys);

	/* Where this page starts: after the token's item, or after startAfter, or at the prefix. */
	auto it = objects_.lower_bound(prefix);
	if (!request.continuationToken.empty()) {
		auto token = decodeToken(request.continuationToken);
		if (!token)
			return fail(Op::List, EINVAL, "the continuation token is not one of ours");
		if (token->first == 'p') {
			std::string end = prefixEnd(token->second);
			it = end.empty() ? objects_.end() : objects_.lower_bound(end);
		} else {
			it = objects_.upper_bound(token->second);
		}
	} else if (!request.startAfter.empty() && request.startAfter >= prefix) {
		it = objects_.upper_bound(request.startAfter);
	}

	ListPage page;
	unsigned count = 0;
	char lastKind = 0;
	std::string lastItem;
	while (it != objects_.end() && startsWith(it->first, prefix)) {
		if (count == maxKeys) {
			page.nextToken = encodeToken(lastKind, lastItem);
			break;
		}
		const std::string &key = it->first;
		std::size_t pos = delimiter.empty() ? std::string::npos : key.find(delimiter, prefix.size());
		if (pos != std::string::npos) {
			/* Every key under this common prefix rolls up into it. */
			std::string common = key.substr(0, pos + delimiter.size());
			std::string end = prefixEnd(common);
			it = end.empty() ? objects_.end() : objects_.lower_bound(end);
			page.commonPrefixes.push_back(common);
			lastKind = 'p';
			lastItem = std::move(common);
		} else {
			const Object &o = it->second;
			page.objects.push_back({ key, o.data->size(), o.etag, o.lastModified });
			lastKind = 'k';
			lastItem = key;
			++it;
		}
		++count;
	}
	return page;
}

Result<ObjectHead> FakeObjectStore::head(const std::string &key)
{
	if (auto e = enter(Op::Head, key))
		return *e;
	std::lock_guard lock(mutex_);
	auto it = objects_.find(key);
	if (it == objects_.end())
		return fail(Op::Head, ENOENT, "no such key");
	const Object &o = it->second;
	return ObjectHead{ o.data->size(), o.etag, o.lastModified, o.contentType, o.metadata };
}

Result<GetResult> FakeObjectStore::get(const std::string &key, std::uint64_t offset, std::span<std::byte> into,
				       const std::string &ifMatch)
{
	if (auto e = enter(Op::Get, key))
		return *e;
	std::shared_ptr<const Bytes> data;
	GetResult result;
	std::chrono::milliseconds delay{ 0 };
	{
		std::lock_guard lock(mutex_);
		if (into.empty())
			return fail(Op::Get, EINVAL, "empty buffer");
		auto it = objects_.find(key);
		if (it == objects_.end())
			return fail(Op::Get, ENOENT, "no such key");
		const Object &o = it->second;
		if (!ifMatch.empty() && !sameEtag(ifMatch, o.etag))
			return fail(Op::Get, ESTALE, "precondition failed: the ETag changed");
		std::uint64_t size = o.data->size();
		/* S3 answers 416 InvalidRange for a range starting at or past the end. */
		if (offset > size || (offset == size && size > 0))
			return fail(Op::Get, ESTALE, "range not satisfiable");
		data = o.data;
		result.bytes = static_cast<std::size_t>(std::min<std::uint64_t>(into.size(), size - offset));
		result.etag = o.etag;
		result.objectSize = size;
		stats_[Op::Get].bytesDownloaded += result.bytes;
		delay = getDelay_;
		++getsRunning_;
		stats_.maxConcurrentGets = std::max(stats_.maxConcurrentGets, getsRunning_);
	}
	/* The bytes are immutable and shared: copy them out without the lock. */
	if (delay.count() > 0)
		std::this_thread::sleep_for(delay);
	if (result.bytes > 0)
		std::memcpy(into.data(), data->data() + offset, result.bytes);
	{
		std::lock_guard lock(mutex_);
		--getsRunning_;
	}
	return result;
}

Result<std::string> FakeObjectStore::put(const std::string &key, std::span<const std::byte> body,
					 const PutOptions &options)
{
	if (auto e = enter(Op::Put, key))
		return *e;
	/* Hash and copy outside the lock: other threads' calls go on meanwhile. */
	auto data = std::make_shared<const Bytes>(body.begin(), body.end());
	std::string etag = quoted(vfs::toHex(md5(body)));
	Metadata metadata = normalized(options.metadata);

	std::lock_guard lock(mutex_);
	if (key.empty())
		return fail(Op::Put, EINVAL, "empty key");
	if (key.size() > kMaxKeyBytes)
		return fail(Op::Put, ENAMETOOLONG, "key too long");
	if (metadataBytes(metadata) > kMaxMetadataBytes)
		return fail(Op::Put, E2BIG, "metadata too large");
	if (body.size() > kMaxPutSize)
		return fail(Op::Put, EFBIG, "entity too large");
	if (!options.ifMatch.empty()) {
		auto it = objects_.find(key);
		if (it == objects_.end())
			return fail(Op::Put, ENOENT, "If-Match on a missing key");
		if (!sameEtag(options.ifMatch, it->second.etag))
			return fail(Op::Put, ESTALE, "precondition failed: the ETag changed");
	}
	objects_[key] = Object{ std::move(data), etag, now(), options.contentType, std::move(metadata) };
	stats_[Op::Put].bytesUploaded += body.size();
	return etag;
}

Result<std::string> FakeObjectStore::copy(const std::string &sourceKey, const std::string &key, MetadataMode mode,
					  const PutOptions &options)
{
	if (auto e = enter(Op::Copy, key))
		return *e;
	std::lock_guard lock(mutex_);
	if (key.empty())
		return fail(Op::Copy, EINVAL, "empty key");
	if (key.size() > kMaxKeyBytes)
		return fail(Op::Copy, ENAMETOOLONG, "key too long");
	auto it = objects_.find(sourceKey);
	if (it == objects_.end())
		return fail(Op::Copy, ENOENT, "no such source key");
	if (sourceKey == key && mode == MetadataMode::Keep)
		return fail(Op::Copy, EINVAL, "copy to itself without changing the metadata");
	const Object &source = it->second;
	if (source.data->size() > kMaxPartSize)
		return fail(Op::Copy, EINVAL, "copy source larger than 5 GiB");

	Object copied;
	copied.data = source.data;
	/* CopyObject gives even a multipart source a plain MD5 ETag. */
	copied.etag = quoted(vfs::toHex(md5(*source.data)));
	copied.lastModified = now();
	if (mode == MetadataMode::Keep) {
		copied.contentType = source.contentType;
		copied.metadata = source.metadata;
	} else {
		copied.contentType = options.contentType;
		copied.metadata = normalized(options.metadata);
		if (metadataBytes(copied.metadata) > kMaxMetadataBytes)
			return fail(Op::Copy, E2BIG, "metadata too large");
	}
	stats_[Op::Copy].bytesCopied += copied.data->size();
	std::string etag = copied.etag;
	objects_[key] = std::move(copied);
	return etag;
}

Result<void> FakeObjectStore::remove(const std::string &key)
{
	if (auto e = enter(Op::Remove, key))
		return *e;
	std::lock_guard lock(mutex_);
	objects_.erase(key);
	return {};
}

Result<std::vector<KeyError>> FakeObjectStore::removeMany(const std::vector<std::string> &keys)
{
	if (auto e = enter(Op::RemoveMany, keys.empty() ? std::string() : keys.front()))
		return *e;
	std::lock_guard lock(mutex_);
	for (const std::string &key : keys)
		objects_.erase(key);
	return std::vector<KeyError>{};
}

Result<std::string> FakeObjectStore::createUpload(const std::string &key, const PutOptions &options)
{
	if (auto e = enter(Op::CreateUpload, key))
		return *e;
	std::lock_guard lock(mutex_);
	if (key.empty())
		return fail(Op::CreateUpload, EINVAL, "empty key");
	if (key.size() > kMaxKeyBytes)
		return fail(Op::CreateUpload, ENAMETOOLONG, "key too long");
	Upload upload;
	upload.key = key;
	upload.options.contentType = options.contentType;
	upload.options.metadata = normalized(options.metadata);
	if (metadataBytes(upload.options.metadata) > kMaxMetadataBytes)
		return fail(Op::CreateUpload, E2BIG, "metadata too large");
	std::string id = "fake-upload-" + std::to_string(nextUploadId_++);
	uploads_.emplace(id, std::move(upload));
	return id;
}

Result<std::string> FakeObjectStore::uploadPart(const std::string &key, const std::string &uploadId,
						unsigned partNumber, std::span<const std::byte> body)
{
	if (auto e = enter(Op::UploadPart, key))
		return *e;
	auto data = std::make_shared<const Bytes>(body.begin(), body.end());
	std::string etag = quoted(vfs::toHex(md5(body)));

	std::lock_guard lock(mutex_);
	auto it = uploads_.find(uploadId);
	if (it == uploads_.end() || it->second.key != key)
		return fail(Op::UploadPart, ESTALE, "no such upload");
	if (partNumber < 1 || partNumber > kMaxParts)
		return fail(Op::UploadPart, EINVAL, "part number out of range");
	if (body.size() > kMaxPartSize)
		return fail(Op::UploadPart, EFBIG, "part larger than 5 GiB");
	std::size_t length = data->size();
	it->second.parts[partNumber] = Part{ std::move(data), 0, length, etag };
	stats_[Op::UploadPart].bytesUploaded += body.size();
	return etag;
}

Result<std::string> FakeObjectStore::uploadPartCopy(const std::string &key, const std::string &uploadId,
						    unsigned partNumber, const std::string &sourceKey,
						    std::uint64_t offset, std::uint64_t length,
						    const std::string &sourceEtag)
{
	if (auto e = enter(Op::UploadPartCopy, key))
		return *e;
	std::shared_ptr<const Bytes> data;
	{
		std::lock_guard lock(mutex_);
		if (!partCopySupported_)
			return fail(Op::UploadPartCopy, EOPNOTSUPP, "not implemented");
		auto up = uploads_.find(uploadId);
		if (up == uploads_.end() || up->second.key != key)
			return fail(Op::UploadPartCopy, ESTALE, "no such upload");
		if (partNumber < 1 || partNumber > kMaxParts)
			return fail(Op::UploadPartCopy, EINVAL, "part number out of range");
		auto src = objects_.find(sourceKey);
		if (src == objects_.end())
			return fail(Op::UploadPartCopy, ENOENT, "no such source key");
		if (!sourceEtag.empty() && !sameEtag(sourceEtag, src->second.etag))
			return fail(Op::UploadPartCopy, ESTALE, "precondition failed: the source ETag changed");
		if (length == 0 || length > kMaxPartSize)
			return fail(Op::UploadPartCopy, EINVAL, "bad copy range length");
		if (offset >= src->second.data->size() || length > src->second.data->size() - offset)
			return fail(Op::UploadPartCopy, ESTALE, "copy range past the end of the source");
		data = src->second.data;
	}

	/* The part's ETag is the MD5 of its bytes; hash outside the lock. */
	auto slice = std::span<const std::byte>(*data).subspan(offset, length);
	std::string etag = quoted(vfs::toHex(md5(slice)));

	std::lock_guard lock(mutex_);
	auto up = uploads_.find(uploadId);
	if (up == uploads_.end())
		return fail(Op::UploadPartCopy, ESTALE, "no such upload");
	up->second.parts[partNumber] = Part{ std::move(data), static_cast<std::size_t>(offset),
					     static_cast<std::size_t>(length), etag };
	stats_[Op::UploadPartCopy].bytesCopied += length;
	return etag;
}

Result<std::string> FakeObjectStore::completeUpload(const std::string &key, const std::string &uploadId,
						    const std::vector<UploadedPart> &parts)
{
	if (auto e = enter(Op::CompleteUpload, key))
		return *e;
	std::lock_guard lock(mutex_);
	auto up = uploads_.find(uploadId);
	if (up == uploads_.end() || up->second.key != key)
		return fail(Op::CompleteUpload, ESTALE, "no such upload");
	if (parts.empty())
		return fail(Op::CompleteUpload, EINVAL, "no parts");

	std::uint64_t total = 0;
	std::vector<const Part *> chosen;
	chosen.reserve(parts.size());
	for (std::size_t i = 0; i < parts.size(); ++i) {
		if (i > 0 && parts[i].partNumber <= parts[i - 1].partNumber)
			return fail(Op::CompleteUpload, EINVAL, "parts not in ascending order");
		auto p = up->second.parts.find(parts[i].partNumber);
		if (p == up->second.parts.end() || !sameEtag(p->second.etag, parts[i].etag))
			return fail(Op::CompleteUpload, EINVAL,
				    "invalid part " + std::to_string(parts[i].partNumber));
		if (i + 1 < parts.size() && p->second.length < minPartSize_)
			return fail(Op::CompleteUpload, EINVAL,
				    "part " + std::to_string(parts[i].partNumber) + " is too small");
		total += p->second.length;
		chosen.push_back(&p->second);
	}

	/* S3's multipart ETag: MD5 of the parts' binary MD5s, then "-" and the part count. */
	auto data = std::make_shared<Bytes>();
	data->reserve(total);
	std::vector<unsigned char> digests;
	for (const Part *p : chosen) {
		auto slice = std::span<const std::byte>(*p->data).subspan(p->offset, p->length);
		data->insert(data->end(), slice.begin(), slice.end());
		Digest d = md5(slice);
		digests.insert(digests.end(), d.begin(), d.end());
	}
	std::string etag = quoted(vfs::toHex(md5(std::as_bytes(std::span(digests)))) + "-" + std::to_string(chosen.size()));

	Object o;
	o.data = std::move(data);
	o.etag = etag;
	o.lastModified = now();
	o.contentType = up->second.options.contentType;
	o.metadata = up->second.options.metadata;
	objects_[key] = std::move(o);
	uploads_.erase(up);
	return etag;
}

Result<void> FakeObjectStore::abortUpload(const std::string &key, const std::string &uploadId)
{
	if (auto e = enter(Op::AbortUpload, key))
		return *e;
	std::lock_guard lock(mutex_);
	auto up = uploads_.find(uploadId);
	if (up == uploads_.end() || up->second.key != key)
		return fail(Op::AbortUpload, ESTALE, "no such upload");
	uploads_.erase(up);
	return {};
}

Result<std::vector<PendingUpload>> FakeObjectStore::listUploads(const std::string &prefix)
{
	if (auto e = enter(Op::ListUploads, prefix))
		return *e;
	std::lock_guard lock(mutex_);
	std::vector<PendingUpload> result;
	for (const auto &[id, upload] : uploads_)
		if (startsWith(upload.key, prefix))
			result.push_back({ upload.key, id });
	std::sort(result.begin(), result.end(), [](const PendingUpload &a, const PendingUpload &b) {
		return a.key != b.key ? a.key < b.key : a.uploadId < b.uploadId;
	});
	return result;
}

} /* namespace vfs::fs */
