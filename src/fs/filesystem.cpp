// The filesystem's semantics over a bucket: inodes, names, attributes, directories.
#include "fs/filesystem.h"

#include <cerrno>
#include <fcntl.h>

#include "fs/names.h"

namespace vfs::fs {

namespace {

using SteadyClock = std::chrono::steady_clock;

Timestamp now()
{
	return std::chrono::system_clock::now();
}

std::span<const std::byte> bytesOf(std::string_view s)
{
	return std::as_bytes(std::span(s.data(), s.size()));
}

} /* namespace */

Filesystem::Filesystem(ObjectStore &store, pool::BlockPool &pool, FilesystemOptions options)
	: store_(store), pool_(pool), options_(std::move(options))
{
	if (!options_.fileData.capabilities)
		options_.fileData.capabilities = std::make_shared<StoreCapabilities>();
	auto root = std::make_shared<Node>();
	root->ino = kRootIno;
	root->parent = kRootIno;
	root->attributes = fromObject(0, now(), {}, true, options_.defaults);
	root->lookups = 1;
	root->fresh = SteadyClock::time_point::max();
	nodes_[kRootIno] = root;
}

Filesystem::~Filesystem() = default;

Result<std::shared_ptr<Filesystem::Node>> Filesystem::node(Ino ino) const
{
	std::lock_guard lock(mutex_);
	auto it = nodes_.find(ino);
	if (it == nodes_.end())
		return Error(ESTALE, "unknown inode " + std::to_string(ino));
	return it->second;
}

std::string Filesystem::childKey(const Node &parent, std::string_view name)
{
	return parent.key + std::string(name);
}

Result<std::optional<Filesystem::Node>> Filesystem::probe(const std::string &fileKey)
{
	/*
	 * A directory of the name wins over an object of the same name, as in
	 * listings. One key under "name/" proves it (no delimiter: some servers,
	 * s3rver, drop deeper common prefixes), and a marker sorts first.
	 */
	ListRequest list;
	list.prefix = fileKey + "/";
	list.delimiter = "";
	list.maxKeys = 1;
	auto page = store_.list(list);
	if (!page)
		return page.error();
	if (!page->objects.empty() || !page->commonPrefixes.empty()) {
		Node n;
		n.key = list.prefix;
		n.dirMarker = !page->objects.empty() && page->objects.front().key == list.prefix;
		Metadata metadata;
		Timestamp modified = now();
		if (n.dirMarker) {
			auto head = store_.head(list.prefix);
			if (head) {
				metadata = head->metadata;
				modified = head->lastModified;
				n.etag = head->etag;
			}
		}
		n.attributes = fromObject(0, modified, metadata, true, options_.defaults);
		return std::optional<Node>(std::move(n));
	}

	auto head = store_.head(fileKey);
	if (!head) {
		if (head.error().code() == ENOENT)
			return std::optional<Node>();
		return head.error();
	}
	Node n;
	n.key = fileKey;
	n.etag = head->etag;
	n.metadata = head->metadata;
	n.attributes = fromObject(head->size, head->lastModified, head->metadata, false, options_.defaults);
	if (n.attributes.type == FileType::Directory) {
		/* An old s3fs directory object "dir" (no slash): its children live under "dir/". */
		n.key = fileKey + "/";
	}
	return std::optional<Node>(std::move(n));
}

std::shared_ptr<Filesystem::Node> Filesystem::remember(Ino parent, std::string_view name, Node probed,
						       bool countLookup)
{
	std::lock_guard lock(mutex_);
	std::shared_ptr<Node> n;
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child != children_.end()) {
		auto it = nodes_.find(child->second);
		/* Same inode only while it is the same kind of thing. */
		if (it != nodes_.end() && isDir(*it->second) == (probed.attributes.type == FileType::Directory))
			n = it->second;
	}
	if (!n) {
		n = std::make_shared<Node>();
		n->ino = nextIno_++;
		nodes_[n->ino] = n;
		children_[std::pair(parent, std::string(name))] = n->ino;
	}
	n->parent = parent;
	n->name = std::string(name);
	n->key = probed.key;
	/* An open file's own view wins over what the bucket says until it is flushed. */
	if (!n->data) {
		n->attributes = probed.attributes;
		n->etag = probed.etag;
		n->metadata = probed.metadata;
	}
	n->dirMarker = probed.dirMarker;
	n->fresh = SteadyClock::now() + options_.attrTimeout;
	if (countLookup)
		++n->lookups;
	return n;
}

std::shared_ptr<Filesystem::Node> Filesystem::known(Ino parent, std::string_view name, bool directory) const
{
	std::lock_guard lock(mutex_);
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child == children_.end())
		return nullptr;
	auto it = nodes_.find(child->second);
	if (it == nodes_.end() || isDir(*it->second) != directory)
		return nullptr;
	return it->second;
}

void Filesystem::dropChild(Ino parent, std::string_view name)
{
	std::lock_guard lock(mutex_);
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child == children_.end())
		return;
	auto it = nodes_.find(child->second);
	/* The inode lives on while the kernel holds references (an unlinked open file). */
	if (it != nodes_.end() && it->second->lookups == 0 && !it->second->data)
		nodes_.erase(it);
	children_.erase(child);
}

Result<std::string> Filesystem::childKeyOf(Ino parent, std::string_view name) const
{
	if (!isValidName(name))
		return Error(name.size() > kMaxNameBytes ? ENAMETOOLONG : EINVAL, "not a valid name");
	auto p = node(parent);
	if (!p)
		return p.error();
	if (!isDir(**p))
		return Error(ENOTDIR, "not a directory");
	std::string key = childKey(**p, name);
	if (key.size() + 1 > kMaxKeyBytes)
		return Error(ENAMETOOLONG, "path longer than S3's 1024-byte key limit");
	return key;
}

Result<Attr> Filesystem::lookup(Ino parent, std::string_view name)
{
	auto childKeyResult = childKeyOf(parent, name);
	if (!childKeyResult)
		return childKeyResult.error();
	const std::string &key = *childKeyResult;

	auto probed = probe(key);
	if (!probed)
		return probed.error();
	if (!*probed) {
		dropChild(parent, name);
		return Error(ENOENT, "no such file or directory");
	}
	auto n = remember(parent, name, std::move(**probed), true);
	return Attr{ n->ino, n->attributes, isDir(*n) ? 2u : 1u };
}

void Filesystem::forget(Ino ino, std::uint64_t count)
{
	if (ino == kRootIno)
		return;
	std::lock_guard lock(mutex_);
	auto it = nodes_.find(ino);
	if (it == nodes_.end())
		return;
	Node &n = *it->second;
	n.lookups = count >= n.lookups ? 0 : n.lookups - count;
	if (n.lookups > 0 || n.data)
		return;
	auto child = children_.find(std::pair(n.parent, n.name));
	if (child != children_.end() && child->second == ino)
		children_.erase(child);
	nodes_.erase(it);
}

Result<Attr> Filesystem::getattr(Ino ino)
{
	auto n = node(ino);
	if (!n)
		return n.error();
	std::shared_ptr<Node> cur = *n;
	if (SteadyClock::now() >= cur->fresh) {
		std::string fileKey = cur->key;
		if (isDir(*cur))
			fileKey.pop_back();
		auto probed = probe(fileKey);
		if (!probed)
			return probed.error();
		if (!*probed)
			return Error(ENOENT, "no longer in the bucket");
		cur = remember(cur->parent, cur->name, std::move(**probed), false);
	}
	return Attr{ cur->ino, cur->attributes, isDir(*cur) ? 2u : 1u };
}

Result<std::vector<Dirent>> Filesystem::readdir(Ino dir)
{
	auto d = node(dir);
	if (!d)
		return d.error();
	if (!isDir(**d))
		return Error(ENOTDIR, "not a directory");

	std::vector<Dirent> out;
	DirectoryReader reader(store_, (*d)->key, options_.skipLog);
	while (!reader.done()) {
		auto entries = reader.next();
		if (!entries)
			return entries.error();
		for (DirEntry &e : *entries) {
			bool directory = e.type == EntryType::Directory;
			std::shared_ptr<Node> n = known(dir, e.name, directory);
			if (!n) {
				Node probed;
				probed.key = e.key;
				probed.etag = e.etag;
				/* Listings carry no metadata: the first stat() asks HEAD for the real attributes. */
				probed.attributes = fromObject(e.size, e.lastModified, {}, directory, options_.defaults);
				n = remember(dir, e.name, std::move(probed), false);
				n->fresh = SteadyClock::now();
			}
			out.push_back({ e.name, Attr{ n->ino, n->attributes, directory ? 2u : 1u } });
		}
	}
	return out;
}

Result<Filesystem::Node> Filesystem::newChild(Ino parent, std::string_view name, FileType type,
					      std::uint32_t permissions, const Caller &caller)
{
	auto childKeyResult = childKeyOf(parent, name);
	if (!childKeyResult)
		return childKeyResult.error();
	const std::string &key = *childKeyResult;
	/* Probe, not lookup(): the kernel gets no entry for a name that exists. */
	auto existing = probe(key);
	if (!existing)
		return existing.error();
	if (*existing)
		return Error(EEXIST, "exists");

	Node n;
	n.key = type == FileType::Directory ? key + "/" : key;
	n.attributes.type = type;
	n.attributes.permissions = permissions & ~caller.umask & 07777;
	n.attributes.uid = caller.uid;
	n.attributes.gid = caller.gid;
	n.attributes.mtime = n.attributes.atime = n.attributes.ctime = now();
	return n;
}

Result<Attr> Filesystem::mkdir(Ino parent, std::string_view name, std::uint32_t permissions, const Caller &caller)
{
	auto prepared = newChild(parent, name, FileType::Directory, permissions, caller);
	if (!prepared)
		return prepared.error();
	Node &n = *prepared;
	n.dirMarker = true;
	PutOptions put;
	put.metadata = toMetadata(n.attributes);
	put.contentType = std::string(kDirectoryContentType);
	auto etag = store_.put(n.key, {}, put);
	if (!etag)
		return etag.error();
	n.etag = *etag;
	auto stored = remember(parent, name, std::move(n), true);
	return Attr{ stored->ino, stored->attributes, 2u };
}

Result<bool> Filesystem::directoryEmpty(const std::string &prefix)
{
	ListRequest list;
	list.prefix = prefix;
	list.maxKeys = 2;
	auto page = store_.list(list);
	if (!page)
		return page.error();
	for (const ListedObject &o : page->objects)
		if (o.key != prefix)
			return false;
	return page->commonPrefixes.empty();
}

Result<void> Filesystem::rmdir(Ino parent, std::string_view name)
{
	auto found = lookup(parent, name);
	if (!found)
		return found.error();
	auto n = node(found->ino);
	if (!n)
		return n.error();
	forget(found->ino, 1);
	if (!isDir(**n))
		return Error(ENOTDIR, "not a directory");
	auto empty = directoryEmpty((*n)->key);
	if (!empty)
		return empty.error();
	if (!*empty)
		return Error(ENOTEMPTY, "directory not empty");
	if ((*n)->dirMarker) {
		auto r = store_.remove((*n)->key);
		if (!r)
			return r.error();
	}
	dropChild(parent, name);
	return {};
}

Result<void> Filesystem::unlink(Ino parent, std::string_view name)
{
	auto found = lookup(parent, name);
	if (!found)
		return found.error();
	auto n = node(found->ino);
	forget(found->ino, 1);
	if (!n)
		return n.error();
	if (isDir(**n))
		return Error(EISDIR, "is a directory");
	auto r = store_.remove((*n)->key);
	if (!r)
		return r.error();
	dropChild(parent, name);
	return {};
}

Result<Attr> Filesystem::symlink(std::string_view target, Ino parent, std::string_view name, const Caller &caller)
{
	/* Symlinks are 0777 whatever the umask, as on every Linux filesystem. */
	auto prepared = newChild(parent, name, FileType::Symlink, 0777, Caller{ caller.uid, caller.gid, 0 });
	if (!prepared)
		return prepared.error();
	Node &n = *prepared;
	n.attributes.size = target.size();
	n.attributes.mtime = n.attributes.atime = n.attributes.ctime = now();
	PutOptions put;
	put.metadata = toMetadata(n.attributes);
	auto etag = store_.put(n.key, bytesOf(target), put);
	if (!etag)
		return etag.error();
	n.etag = *etag;
	auto stored = remember(parent, name, std::move(n), true);
	return Attr{ stored->ino, stored->attributes, 1u };
}

Result<std::string> Filesystem::readlink(Ino ino)
{
	auto current = getattr(ino); /* refreshes what a listing could only guess */
	if (!current)
		return current.error();
	auto n = node(ino);
	if (!n)
		return n.error();
	if ((*n)->attributes.type != FileType::Symlink)
		return Error(EINVAL, "not a symlink");
	std::string target((*n)->attributes.size, '\0');
	if (target.empty())
		return target;
	auto got = store_.get((*n)->key, 0, std::as_writable_bytes(std::span(target.data(), target.size())), {});
	if (!got)
		return got.error();
	target.resize(got->bytes);
	return target;
}

Result<void> Filesystem::rename(Ino parent, std::string_view name, Ino newParent, std::string_view newName,
			       bool noReplace)
{
	auto fromKey = childKeyOf(parent, name);
	if (!fromKey)
		return fromKey.error();
	auto toKey = childKeyOf(newParent, newName);
	if (!toKey)
		return toKey.error();
	if (*fromKey == *toKey)
		return {};

	auto source = probe(*fromKey);
	if (!source)
		return source.error();
	if (!*source)
		return Error(ENOENT, "no such file or directory");
	if ((*source)->attributes.type == FileType::Directory)
		return Error(EXDEV, "directory rename is not supported yet");
	auto target = probe(*toKey);
	if (!target)
		return target.error();
	if (*target) {
		if (noReplace)
			return Error(EEXIST, "target exists");
		if ((*target)->attributes.type == FileType::Directory)
			return Error(EISDIR, "target is a directory");
	}

	/* Unsaved data goes up first, so the copy carries it. */
	std::shared_ptr<Node> moving = known(parent, name, false);
	if (moving) {
		auto sent = upload(moving);
		if (!sent)
			return sent.error();
	}
	auto copied = store_.copy(*fromKey, *toKey, MetadataMode::Keep, PutOptions{});
	if (!copied)
		return copied.error();
	auto removed = store_.remove(*fromKey);
	if (!removed)
		return removed.error();

	std::lock_guard lock(mutex_);
	children_.erase(std::pair(newParent, std::string(newName)));
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child != children_.end()) {
		Ino ino = child->second;
		children_.erase(child);
		children_[std::pair(newParent, std::string(newName))] = ino;
		if (auto it = nodes_.find(ino); it != nodes_.end()) {
			Node &n = *it->second;
			n.parent = newParent;
			n.name = std::string(newName);
			n.key = *toKey;
			n.etag = *copied;
			/* An open file's data is bound to the old key: reopened from the new one on next use. */
			if (n.data && !n.data->dirty())
				n.data.reset();
		}
	}
	return {};
}

Result<void> Filesystem::storeMetadata(Node &n)
{
	/* Keep every other metadata entry (xattrs, other tools' keys): read, change, write back. */
	auto head = store_.head(n.key);
	Metadata metadata;
	std::string contentType;
	bool exists = head.ok();
	if (exists) {
		metadata = head->metadata;
		contentType = head->contentType;
	} else if (head.error().code() != ENOENT || !isDir(n)) {
		return head.error();
	}
	storeAttributes(n.attributes, metadata);
	PutOptions options;
	options.metadata = std::move(metadata);
	options.contentType = isDir(n) ? std::string(kDirectoryContentType) : contentType;

	Result<std::string> etag = exists ? store_.copy(n.key, n.key, MetadataMode::Replace, options)
					  : store_.put(n.key, {}, options); /* an implied directory gets a marker */
	if (!etag)
		return etag.error();
	n.etag = *etag;
	if (isDir(n))
		n.dirMarker = true;
	return {};
}

Result<Attr> Filesystem::setattr(Ino ino, const SetAttrRequest &request)
{
	auto current = getattr(ino);
	if (!current)
		return current.error();
	auto found = node(ino);
	if (!found)
		return found.error();
	std::shared_ptr<Node> n = *found;
	if (ino == kRootIno)
		return Error(EPERM, "the bucket root's attributes are the mount's");
	if (request.size && isDir(*n))
		return Error(EISDIR, "is a directory");

	Attributes changed;
	{
		std::lock_guard lock(mutex_);
		changed = n->attributes;
	}
	if (request.permissions)
		changed.permissions = *request.permissions & 07777;
	if (request.uid)
		changed.uid = *request.uid;
	if (request.gid)
		changed.gid = *request.gid;
	if (request.atime)
		changed.atime = *request.atime;
	if (request.mtime)
		changed.mtime = *request.mtime;
	changed.ctime = now();

	if (request.size) {
		/* Truncation, both ways, goes through the file's data; a closed file is uploaded now. */
		auto data = fileData(n);
		if (!data)
			return data.error();
		auto r = (*data)->truncate(*request.size);
		if (!r)
			return r.error();
		changed.size = *request.size;
		if (!request.mtime)
			changed.mtime = now();
		bool open;
		{
			std::lock_guard lock(mutex_);
			n->attributes = changed;
			open = n->opens > 0;
		}
		if (!open) {
			auto sent = upload(n);
			if (!sent)
				return sent.error();
			std::lock_guard lock(mutex_);
			if (n->data && !n->data->dirty())
				n->data.reset();
		}
		return getattr(ino);
	}

	std::shared_ptr<FileData> data;
	{
		std::lock_guard lock(mutex_);
		data = n->data;
		if (data && data->dirty()) {
			/* The pending upload carries the new attributes. */
			n->attributes = changed;
			return Attr{ ino, changed, 1u };
		}
	}
	Node copy;
	{
		std::lock_guard lock(mutex_);
		copy = *n;
	}
	copy.attributes = changed;
	auto r = storeMetadata(copy);
	if (!r)
		return r.error();

	std::lock_guard lock(mutex_);
	n->attributes = copy.attributes;
	n->etag = copy.etag;
	n->dirMarker = copy.dirMarker;
	n->fresh = SteadyClock::now() + options_.attrTimeout;
	/* The rewrite gave the object a new ETag: clean data is re-read against it. */
	if (n->data && !n->data->dirty())
		n->data.reset();
	return Attr{ ino, copy.attributes, isDir(copy) ? 2u : 1u };
}

Result<std::shared_ptr<FileData>> Filesystem::fileDataLocked(Node &n)
{
	if (n.attributes.type != FileType::Regular)
		return Error(isDir(n) ? EISDIR : EINVAL, "not a regular file");
	if (!n.data) {
		std::optional<BaseObject> base;
		if (!n.etag.empty())
			base = BaseObject{ n.attributes.size, n.etag };
		n.data = std::make_shared<FileData>(pool_, store_, n.ino, n.key, base, options_.fileData);
	}
	return n.data;
}

Result<std::shared_ptr<FileData>> Filesystem::fileData(const std::shared_ptr<Node> &n)
{
	std::lock_guard lock(mutex_);
	return fileDataLocked(*n);
}

Result<std::pair<std::shared_ptr<Filesystem::Node>, std::shared_ptr<FileData>>> Filesystem::fileOf(Ino ino)
{
	std::lock_guard lock(mutex_);
	auto it = nodes_.find(ino);
	if (it == nodes_.end())
		return Error(ESTALE, "unknown inode " + std::to_string(ino));
	auto data = fileDataLocked(*it->second);
	if (!data)
		return data.error();
	return std::pair(it->second, std::move(*data));
}

Result<Attr> Filesystem::create(Ino parent, std::string_view name, std::uint32_t permissions, int flags,
				const Caller &caller)
{
	if (refuseWrites_)
		return Error(EROFS, "stopping: no new files");
	auto existing = lookup(parent, name);
	if (existing) {
		if (flags & O_EXCL) {
			forget(existing->ino, 1);
			return Error(EEXIST, "exists");
		}
		auto opened = open(existing->ino, flags);
		if (!opened) {
			forget(existing->ino, 1);
			return opened.error();
		}
		return getattr(existing->ino);
	}
	if (existing.error().code() != ENOENT)
		return existing.error();
	auto prepared = newChild(parent, name, FileType::Regular, permissions, caller);
	if (!prepared)
		return prepared.error();
	Node &n = *prepared;
	/* The object exists from now on, empty: other clients see the name, close() fills it. */
	n.metadata = toMetadata(n.attributes);
	PutOptions put;
	put.metadata = n.metadata;
	auto etag = store_.put(n.key, {}, put);
	if (!etag)
		return etag.error();
	n.etag = *etag;
	auto stored = remember(parent, name, std::move(n), true);
	auto data = fileData(stored);
	if (!data)
		return data.error();
	std::lock_guard lock(mutex_);
	++stored->opens;
	return Attr{ stored->ino, stored->attributes, 1u };
}

Result<void> Filesystem::open(Ino ino, int flags)
{
	if (refuseWrites_ && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return Error(EROFS, "stopping: no new writers");
	auto n = node(ino);
	if (!n)
		return n.error();
	if ((*n)->attributes.type == FileType::Directory)
		return Error(EISDIR, "is a directory");
	auto data = fileData(*n);
	if (!data)
		return data.error();
	if (flags & O_TRUNC) {
		auto r = (*data)->truncate(0);
		if (!r)
			return r;
		std::lock_guard lock(mutex_);
		(*n)->attributes.size = 0;
		(*n)->attributes.mtime = now();
	}
	std::lock_guard lock(mutex_);
	++(*n)->opens;
	return {};
}

Result<std::size_t> Filesystem::read(Ino ino, std::uint64_t offset, std::span<std::byte> into)
{
	auto file = fileOf(ino);
	if (!file)
		return file.error();
	return file->second->read(offset, into);
}

Result<std::size_t> Filesystem::write(Ino ino, std::uint64_t offset, std::span<const std::byte> bytes)
{
	auto file = fileOf(ino);
	if (!file)
		return file.error();
	auto &[n, data] = *file;
	auto r = data->write(offset, bytes);
	if (!r)
		return r.error();
	std::lock_guard lock(mutex_);
	n->attributes.size = data->size();
	n->attributes.mtime = n->attributes.ctime = now();
	return bytes.size();
}

Result<std::uint64_t> Filesystem::upload(const std::shared_ptr<Node> &n)
{
	std::shared_ptr<FileData> data;
	Metadata metadata;
	{
		std::lock_guard lock(mutex_);
		data = n->data;
		if (!data)
			return std::uint64_t(0);
		metadata = n->metadata;
		storeAttributes(n->attributes, metadata);
	}
	{
		std::lock_guard lock(metricsMutex_);
		++metrics_.uploadsInFlight;
	}
	auto stats = data->flush(metadata);
	{
		std::lock_guard lock(metricsMutex_);
		--metrics_.uploadsInFlight;
		if (!stats) {
			++metrics_.flushErrors;
		} else if (stats->uploaded) {
			++metrics_.flushes;
			metrics_.puts += stats->puts;
			metrics_.uploadParts += stats->uploadParts;
			metrics_.uploadPartCopies += stats->uploadPartCopies;
			metrics_.copyFallbacks += stats->copyFallbacks;
			metrics_.bytesUploaded += stats->bytesUploaded;
			metrics_.bytesCopied += stats->bytesCopied;
			metrics_.bytesFetched += stats->bytesFetched;
		}
	}
	if (!stats)
		return stats.error();
	std::lock_guard lock(mutex_);
	if (auto base = data->base()) {
		n->etag = base->etag;
		n->attributes.size = base->size;
	}
	n->metadata = std::move(metadata);
	return stats->bytesUploaded;
}

Result<void> Filesystem::flush(Ino ino)
{
	auto n = node(ino);
	if (!n)
		return n.error();
	auto sent = upload(*n);
	if (!sent)
		return sent.error();
	return {};
}

Result<void> Filesystem::release(Ino ino)
{
	auto n = node(ino);
	if (!n)
		return n.error();
	std::lock_guard lock(mutex_);
	if ((*n)->opens > 0)
		--(*n)->opens;
	/* Unsaved data (a failed upload) stays for flushAll(); else the memory goes now. */
	if ((*n)->opens == 0 && (*n)->data && !(*n)->data->dirty())
		(*n)->data.reset();
	return {};
}

Result<std::uint64_t> Filesystem::flushAll()
{
	std::vector<std::shared_ptr<Node>> withData;
	{
		std::lock_guard lock(mutex_);
		for (auto &[ino, n] : nodes_)
			if (n->data && n->data->dirty())
				withData.push_back(n);
	}
	std::uint64_t sent = 0;
	std::optional<Error> firstError;
	for (auto &n : withData) {
		auto r = upload(n);
		if (r)
			sent += *r;
		else if (!firstError)
			firstError = r.error();
	}
	if (firstError)
		return *firstError;
	return sent;
}

StatFs Filesystem::statfs() const
{
	return StatFs{};
}

FsMetrics Filesystem::metrics() const
{
	std::lock_guard lock(metricsMutex_);
	return metrics_;
}

std::size_t Filesystem::inodeCount() const
{
	std::lock_guard lock(mutex_);
	return nodes_.size();
}

} /* namespace vfs::fs */
