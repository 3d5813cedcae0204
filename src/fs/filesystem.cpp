// The filesystem's semantics over a bucket: inodes, names, attributes, directories.
#include "fs/filesystem.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <shared_mutex>
#include <system_error>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "fs/names.h"
#include "fs/work_queue.h"

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

/*
 * Runs @task(i) for every i in [0, count) on up to @width threads. After
 * the first failure no new task starts; returns that failure. @done[i] is
 * set for each task that succeeded.
 */
Result<void> forEachParallel(std::size_t count, unsigned width, std::vector<char> &done,
			     const std::function<Result<void>(std::size_t)> &task)
{
	done.assign(count, 0);
	std::atomic<std::size_t> next{ 0 };
	std::atomic<bool> stop{ false };
	std::mutex errorMutex;
	std::optional<Error> firstError;
	auto worker = [&] {
		while (!stop.load()) {
			std::size_t i = next.fetch_add(1);
			if (i >= count)
				return;
			auto r = task(i);
			if (r) {
				done[i] = 1;
				continue;
			}
			std::lock_guard lock(errorMutex);
			if (!firstError)
				firstError = r.error();
			stop = true;
		}
	};
	std::vector<std::thread> threads;
	try {
		for (std::size_t t = 1; t < std::min<std::size_t>(width, count); ++t)
			threads.emplace_back(worker);
	} catch (const std::system_error &) {
		/* No more threads to be had: the ones running (and this one) do all the work. */
	}
	worker();
	for (std::thread &t : threads)
		t.join();
	if (firstError)
		return *firstError;
	return {};
}

/* "user." names are stored; the kernel's own namespaces never reach S3. */
bool storedXattr(std::string_view name)
{
	return name.starts_with("user.");
}

Result<void> checkXattrName(std::string_view name)
{
	if (name.size() > 255)
		return Error(ERANGE, "extended attribute name longer than 255 bytes");
	if (name.size() == 5)
		return Error(EINVAL, "empty extended attribute name after \"user.\"");
	if (!xattrNameStorable(name))
		return Error(EINVAL, "extended attribute names cannot hold '\"', ',', ':', '{' or '}' (s3fs's format)");
	return {};
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
	/* The object's HEAD goes out with the LIST: a file, or nothing, costs one round trip, not two. */
	std::optional<Result<ObjectHead>> head;
	std::thread headThread;
	try {
		headThread = std::thread([&] { head.emplace(store_.head(fileKey)); });
	} catch (const std::system_error &) {
		/* No thread to be had: the HEAD follows the LIST. */
	}
	auto page = store_.list(list);
	if (headThread.joinable())
		headThread.join();
	if (!page)
		return page.error();
	if (!page->objects.empty() || !page->commonPrefixes.empty()) {
		Node n;
		n.key = list.prefix;
		n.dirMarker = !page->objects.empty() && page->objects.front().key == list.prefix;
		Metadata metadata;
		Timestamp modified = now();
		if (n.dirMarker) {
			auto marker = store_.head(list.prefix);
			if (marker) {
				metadata = marker->metadata;
				modified = marker->lastModified;
				n.etag = marker->etag;
			}
		}
		n.attributes = fromObject(0, modified, metadata, true, options_.defaults);
		n.metadata = std::move(metadata);
		return std::optional<Node>(std::move(n));
	}

	if (!head)
		head.emplace(store_.head(fileKey));
	const Result<ObjectHead> &object = *head;
	if (!object) {
		if (object.error().code() == ENOENT)
			return std::optional<Node>();
		return object.error();
	}
	Node n;
	n.key = fileKey;
	n.etag = object->etag;
	n.metadata = object->metadata;
	n.attributes = fromObject(object->size, object->lastModified, object->metadata, false, options_.defaults);
	if (n.attributes.type == FileType::Directory) {
		/* An old s3fs directory object "dir" (no slash): its children live under "dir/". */
		n.key = fileKey + "/";
	}
	return std::optional<Node>(std::move(n));
}

std::shared_ptr<Filesystem::Node> Filesystem::remember(Ino parent, std::string_view name, Node probed,
						       bool countLookup, bool made)
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
		/* A name (or a kind) the directory's cached listing does not have. */
		namesChangedLocked(parent);
	}
	n->parent = parent;
	n->name = std::string(name);
	n->key = probed.key;
	/* An open file's own view wins over what the bucket says until it is flushed. */
	if (!n->data) {
		n->attributes = probed.attributes;
		n->etag = probed.etag;
		n->metadata = probed.metadata;
		setLocalLocked(*n, probed.local);
	}
	n->dirMarker = probed.dirMarker;
	n->fresh = SteadyClock::now() + options_.attrTimeout;
	forgetAbsentLocked(parent, name);
	noteNameLocked(parent, name, true, made);
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
	dropChildLocked(parent, name);
}

void Filesystem::dropChildLocked(Ino parent, std::string_view name)
{
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child == children_.end())
		return;
	namesChangedLocked(parent);
	namesChangedLocked(child->second); /* a removed directory's own listing goes too */
	auto it = nodes_.find(child->second);
	/* The inode lives on while the kernel holds references (an unlinked open file). */
	if (it != nodes_.end() && !referenced(*it->second)) {
		dropNamesLocked(it->first);
		nodes_.erase(it);
	}
	children_.erase(child);
}

std::shared_ptr<Filesystem::Node> Filesystem::localChildLocked(Ino parent, std::string_view name) const
{
	if (localFiles_ == 0)
		return nullptr;
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child == children_.end())
		return nullptr;
	auto it = nodes_.find(child->second);
	if (it == nodes_.end() || !it->second->local || it->second->orphaned)
		return nullptr;
	return it->second;
}

bool Filesystem::hasLocalChildLocked(Ino dir) const
{
	if (localFiles_ == 0)
		return false;
	for (auto it = children_.lower_bound(std::pair(dir, std::string())); it != children_.end() && it->first.first == dir;
	     ++it) {
		auto n = nodes_.find(it->second);
		if (n != nodes_.end() && n->second->local && !n->second->orphaned)
			return true;
	}
	return false;
}

void Filesystem::setLocalLocked(Node &n, bool local)
{
	if (n.local == local)
		return;
	n.local = local;
	if (local)
		++localFiles_;
	else
		--localFiles_;
}

Filesystem::NameState Filesystem::nameStateLocked(Ino dir, std::string_view name) const
{
	auto it = dirNames_.find(dir);
	if (it == dirNames_.end() || it->second.until <= SteadyClock::now())
		return NameState::Unknown;
	return it->second.names.count(name) ? NameState::Present : NameState::Absent;
}

void Filesystem::noteNameLocked(Ino dir, std::string_view name, bool exists, bool ours)
{
	if (ours)
		if (auto d = nodes_.find(dir); d != nodes_.end())
			++d->second->nameChanges;
	auto it = dirNames_.find(dir);
	if (it == dirNames_.end())
		return;
	auto &names = it->second.names;
	if (!exists) {
		if (auto found = names.find(name); found != names.end()) {
			names.erase(found);
			--namesHeld_;
		}
		return;
	}
	if (!names.emplace(name).second)
		return;
	++namesHeld_;
	if (names.size() > kMaxDirNames || namesHeld_ > kMaxHeldNames)
		dropNamesLocked(dir);
}

void Filesystem::dropNamesLocked(Ino dir)
{
	auto it = dirNames_.find(dir);
	if (it == dirNames_.end())
		return;
	namesHeld_ -= it->second.names.size();
	dirNames_.erase(it);
}

void Filesystem::keepNamesLocked(Ino dir, std::uint64_t changes, std::set<std::string, std::less<>> names,
				 bool onePage)
{
	if (options_.attrTimeout.count() <= 0)
		return;
	auto d = nodes_.find(dir);
	if (d == nodes_.end() || d->second->nameChanges != changes)
		return;
	/* Our files not uploaded yet are in no listing, but they are there. */
	if (localFiles_ > 0)
		for (auto it = children_.lower_bound(std::pair(dir, std::string()));
		     it != children_.end() && it->first.first == dir; ++it)
			if (auto n = nodes_.find(it->second);
			    n != nodes_.end() && n->second->local && !n->second->orphaned)
				names.insert(it->first.second);
	dropNamesLocked(dir);
	if (names.size() > kMaxDirNames)
		return;
	auto current = SteadyClock::now();
	if (namesHeld_ + names.size() > kMaxHeldNames) {
		for (auto it = dirNames_.begin(); it != dirNames_.end();) {
			if (it->second.until > current) {
				++it;
				continue;
			}
			namesHeld_ -= it->second.names.size();
			it = dirNames_.erase(it);
		}
	}
	if (namesHeld_ + names.size() > kMaxHeldNames) {
		dirNames_.clear();
		namesHeld_ = 0;
	}
	namesHeld_ += names.size();
	dirNames_[dir] = DirNames{ std::move(names), current + options_.attrTimeout, onePage, false };
}

bool Filesystem::renewNames(Ino dir)
{
	std::string prefix;
	std::uint64_t changes;
	{
		std::lock_guard lock(mutex_);
		if (options_.attrTimeout.count() <= 0)
			return false;
		auto it = dirNames_.find(dir);
		auto d = nodes_.find(dir);
		if (it == dirNames_.end() || d == nodes_.end() || !it->second.onePage || it->second.renewing)
			return false;
		it->second.renewing = true;
		prefix = d->second->key;
		changes = d->second->nameChanges;
	}
	DirectoryReader reader(store_, prefix, {}, {}, kListPage);
	auto entries = reader.next();
	bool complete = entries && reader.done();
	std::set<std::string, std::less<>> names;
	if (complete)
		for (DirEntry &e : *entries)
			names.insert(std::move(e.name));

	std::lock_guard lock(mutex_);
	auto it = dirNames_.find(dir);
	if (it != dirNames_.end()) {
		it->second.renewing = false;
		/* Grown past one page: probes are cheaper than listing it all for every lookup. */
		if (entries && !complete)
			it->second.onePage = false;
	}
	if (!complete)
		return false;
	keepNamesLocked(dir, changes, std::move(names), true);
	return true;
}

std::uint64_t Filesystem::namesGeneration() const
{
	std::lock_guard lock(mutex_);
	return namesGeneration_;
}

void Filesystem::noteAbsent(Ino parent, std::string_view name, std::uint64_t generation)
{
	std::lock_guard lock(mutex_);
	noteAbsentLocked(parent, name, generation);
}

void Filesystem::noteAbsentLocked(Ino parent, std::string_view name, std::uint64_t generation)
{
	if (options_.attrTimeout.count() <= 0)
		return;
	if (namesGeneration_ != generation)
		return;
	auto current = SteadyClock::now();
	/* Bounded: a scan of many missing names drops the expired entries as it goes. */
	if (absent_.size() >= kMaxAbsentNames)
		std::erase_if(absent_, [&](const auto &entry) { return entry.second <= current; });
	if (absent_.size() >= kMaxAbsentNames)
		absent_.clear();
	absent_[std::pair(parent, std::string(name))] = current + options_.attrTimeout;
}

bool Filesystem::knownAbsent(Ino parent, std::string_view name) const
{
	std::lock_guard lock(mutex_);
	if (localChildLocked(parent, name))
		return false;
	if (nameStateLocked(parent, name) == NameState::Absent)
		return true;
	auto it = absent_.find(std::pair(parent, std::string(name)));
	return it != absent_.end() && it->second > SteadyClock::now();
}

void Filesystem::forgetAbsentLocked(Ino parent, std::string_view name)
{
	++namesGeneration_;
	if (absent_.empty())
		return;
	auto it = absent_.find(std::pair(parent, std::string(name)));
	if (it != absent_.end())
		absent_.erase(it);
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

	/* Our file not uploaded yet (only we know it), or the parent's names: no request. */
	auto fromMemory = [&](NameState &state) -> std::optional<Result<Attr>> {
		std::lock_guard lock(mutex_);
		if (auto n = localChildLocked(parent, name)) {
			++n->lookups;
			return Result<Attr>(Attr{ n->ino, n->attributes, 1u });
		}
		state = nameStateLocked(parent, name);
		if (state == NameState::Absent)
			return Result<Attr>(Error(ENOENT, "no such file or directory"));
		return std::nullopt;
	};
	NameState state;
	if (auto answer = fromMemory(state))
		return std::move(*answer);
	if (state == NameState::Unknown && renewNames(parent))
		if (auto answer = fromMemory(state))
			return std::move(*answer);

	const std::uint64_t generation = namesGeneration();
	auto probed = probe(key);
	if (!probed)
		return probed.error();
	if (!*probed) {
		std::lock_guard lock(mutex_);
		/* Our create may have made it while the probe was out. */
		if (auto n = localChildLocked(parent, name)) {
			++n->lookups;
			return Attr{ n->ino, n->attributes, 1u };
		}
		dropChildLocked(parent, name);
		noteNameLocked(parent, name, false, false);
		noteAbsentLocked(parent, name, generation);
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
	dropIfUnreferenced(ino);
}

void Filesystem::dropIfUnreferenced(Ino ino)
{
	auto it = nodes_.find(ino);
	if (ino == kRootIno || it == nodes_.end() || referenced(*it->second))
		return;
	Node &n = *it->second;
	auto child = children_.find(std::pair(n.parent, n.name));
	if (child != children_.end() && child->second == ino)
		children_.erase(child);
	dropNamesLocked(ino);
	nodes_.erase(it);
}

void Filesystem::releaseListing(const std::vector<Dirent> &entries)
{
	std::lock_guard lock(mutex_);
	for (const Dirent &e : entries) {
		auto it = nodes_.find(e.attr.ino);
		if (it == nodes_.end())
			continue;
		if (it->second->listings > 0)
			--it->second->listings;
		dropIfUnreferenced(e.attr.ino);
	}
}

void Filesystem::addLookup(Ino ino)
{
	if (ino == kRootIno)
		return;
	std::lock_guard lock(mutex_);
	auto it = nodes_.find(ino);
	if (it != nodes_.end())
		++it->second->lookups;
}

Result<Attr> Filesystem::getattr(Ino ino)
{
	auto n = node(ino);
	if (!n)
		return n.error();
	std::shared_ptr<Node> cur = *n;
	{
		/* An unlinked open file has no object to ask: it is what memory says, with no links. */
		std::lock_guard lock(mutex_);
		if (cur->orphaned)
			return Attr{ cur->ino, cur->attributes, 0u };
		/* An open file's own view wins over the bucket's (remember() keeps it): asking S3 would be wasted. */
		if (cur->data)
			return Attr{ cur->ino, cur->attributes, 1u };
	}
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
	std::vector<std::shared_ptr<Node>> nodes;
	/* HEADs for the entries without fresh attributes, started while the listing goes on. */
	struct HeadJob {
		std::shared_ptr<Node> node;
		std::size_t index;
	};
	std::mutex answeredMutex;
	std::vector<std::size_t> answered; /* guarded by answeredMutex: indices into out */
	WorkQueue<HeadJob> heads(options_.listMetadataRequests, [&](HeadJob &job) {
		if (!fetchMetadata(job.node))
			return;
		std::lock_guard lock(answeredMutex);
		answered.push_back(job.index);
	});
	/* Entries from out[from] on: complete if fresh (or ours, open or not uploaded yet: its view is the truth), else HEADed. */
	auto dispatch = [&](std::size_t from) {
		std::vector<HeadJob> stale;
		{
			std::lock_guard lock(mutex_);
			auto current = SteadyClock::now();
			for (std::size_t i = from; i < out.size(); ++i) {
				Node &n = *nodes[i];
				out[i].complete = n.data || n.local || n.fresh > current;
				if (!out[i].complete && options_.listMetadataRequests > 0)
					stale.push_back({ nodes[i], i });
			}
		}
		for (HeadJob &job : stale)
			heads.push(std::move(job));
	};
	auto add = [&](const std::shared_ptr<Node> &n, std::string name, bool directory) {
		out.push_back({ std::move(name), Attr{ n->ino, {}, directory ? 2u : 1u }, false, {} });
		nodes.push_back(n);
	};

	std::uint64_t changes;
	std::uint64_t renames;
	bool cached;
	SteadyClock::time_point namesValidUntil;
	{
		std::lock_guard lock(mutex_);
		sweepListingsLocked(0);
		changes = (*d)->nameChanges;
		renames = renames_;
		auto hit = cachedListings_.find(dir);
		if (hit != cachedListings_.end() && (hit->second.validUntil <= SteadyClock::now() ||
						     hit->second.nameChanges != changes || hit->second.renames != renames)) {
			releaseCachedLocked(hit->second);
			cachedListings_.erase(hit);
			hit = cachedListings_.end();
		}
		cached = hit != cachedListings_.end();
		if (cached) {
			namesValidUntil = hit->second.validUntil;
			for (const std::shared_ptr<Node> &n : hit->second.entries) {
				++n->listings;
				add(n, n->name, isDir(*n));
			}
		}
	}
	if (cached) {
		dispatch(0);
	} else {
		DirectoryReader reader(store_, (*d)->key, options_.skipLog);
		while (!reader.done()) {
			auto entries = reader.next();
			if (!entries) {
				heads.cancel();
				releaseListing(out);
				return entries.error();
			}
			std::size_t from = out.size();
			for (DirEntry &e : *entries) {
				std::shared_ptr<Node> n = listed(dir, e);
				add(n, std::move(e.name), e.type == EntryType::Directory);
			}
			dispatch(from);
		}
	}
	heads.finish();

	std::lock_guard lock(mutex_);
	/*
	 * Fresh from when the whole listing is done, not from each HEAD: a
	 * listing whose HEADs take longer than the TTL would otherwise be stale
	 * again for the next `ls -l` before it even starts.
	 */
	auto end = SteadyClock::now();
	auto fresh = end + options_.attrTimeout;
	for (std::size_t i : answered) {
		out[i].complete = true;
		if (!nodes[i]->data)
			nodes[i]->fresh = std::max(nodes[i]->fresh, fresh);
	}
	if (!cached) {
		namesValidUntil = fresh;
		addLocalEntriesLocked(dir, out, nodes);
		if (options_.attrTimeout.count() > 0 && out.size() <= kMaxDirNames) {
			std::set<std::string, std::less<>> names;
			for (const Dirent &e : out)
				names.insert(e.name);
			keepNamesLocked(dir, changes, std::move(names), out.size() < kListPage);
		}
	}
	for (std::size_t i = 0; i < out.size(); ++i) {
		Node &n = *nodes[i];
		if (n.data || n.local)
			out[i].complete = true; /* opened meanwhile: its own view */
		out[i].attr.attributes = n.attributes;
		if (out[i].complete)
			out[i].validUntil = std::min(n.data || n.local ? fresh : n.fresh, namesValidUntil);
	}

	/* Cached only if no name here changed while it was listed (ours: theirs show after the TTL). */
	if (!cached && options_.attrTimeout.count() > 0 && (*d)->nameChanges == changes && renames_ == renames &&
	    out.size() <= kMaxCachedEntries) {
		if (auto old = cachedListings_.find(dir); old != cachedListings_.end()) {
			releaseCachedLocked(old->second);
			cachedListings_.erase(old);
		}
		sweepListingsLocked(nodes.size());
		for (const std::shared_ptr<Node> &n : nodes)
			++n->listings;
		cachedEntries_ += nodes.size();
		cachedListings_[dir] = CachedListing{ std::move(nodes), changes, renames, namesValidUntil };
		cacheOrder_.emplace_back(namesValidUntil, dir);
	}
	return out;
}

void Filesystem::namesChangedLocked(Ino dir)
{
	if (auto it = nodes_.find(dir); it != nodes_.end())
		++it->second->nameChanges;
}

void Filesystem::releaseCachedLocked(CachedListing &listing)
{
	cachedEntries_ -= listing.entries.size();
	for (const std::shared_ptr<Node> &n : listing.entries) {
		if (n->listings > 0)
			--n->listings;
		dropIfUnreferenced(n->ino);
	}
	listing.entries.clear();
}

void Filesystem::sweepListingsLocked(std::size_t room)
{
	/* Every TTL is the same, so listings expire in the order they were cached. */
	auto current = SteadyClock::now();
	while (!cacheOrder_.empty()) {
		auto [until, dir] = cacheOrder_.front();
		auto it = cachedListings_.find(dir);
		/* A record of a listing replaced or dropped since is just skipped. */
		bool live = it != cachedListings_.end() && it->second.validUntil == until;
		if (live && until > current && cachedEntries_ + room <= kMaxCachedEntries)
			break;
		cacheOrder_.pop_front();
		if (live) {
			releaseCachedLocked(it->second);
			cachedListings_.erase(it);
		}
	}
}

void Filesystem::addLocalEntriesLocked(Ino dir, std::vector<Dirent> &out, std::vector<std::shared_ptr<Node>> &nodes)
{
	if (localFiles_ == 0)
		return;
	std::vector<std::shared_ptr<Node>> local;
	for (auto it = children_.lower_bound(std::pair(dir, std::string())); it != children_.end() && it->first.first == dir;
	     ++it)
		if (auto found = nodes_.find(it->second);
		    found != nodes_.end() && found->second->local && !found->second->orphaned)
			local.push_back(found->second);
	if (local.empty())
		return;
	std::set<std::string> listedNames;
	for (const Dirent &e : out)
		listedNames.insert(e.name);
	for (std::shared_ptr<Node> &n : local) {
		/* Another client's object of the same name: the listing shows it, with our node. */
		if (listedNames.count(n->name))
			continue;
		++n->listings;
		out.push_back({ n->name, Attr{ n->ino, n->attributes, 1u }, true, {} });
		nodes.push_back(std::move(n));
	}
}

std::shared_ptr<Filesystem::Node> Filesystem::listed(Ino dir, const DirEntry &e)
{
	bool directory = e.type == EntryType::Directory;
	std::lock_guard lock(mutex_);
	forgetAbsentLocked(dir, e.name);
	auto child = children_.find(std::pair(dir, e.name));
	if (child != children_.end()) {
		auto it = nodes_.find(child->second);
		if (it != nodes_.end() && isDir(*it->second) == directory) {
			++it->second->listings;
			return it->second;
		}
	}
	auto n = std::make_shared<Node>();
	n->ino = nextIno_++;
	n->parent = dir;
	n->name = e.name;
	n->key = e.key;
	n->etag = e.etag;
	/* Listings carry no metadata: a HEAD (fetchMetadata, or the first stat()) gives the real attributes. */
	n->attributes = fromObject(e.size, e.lastModified, {}, directory, options_.defaults);
	n->fresh = SteadyClock::now();
	n->listings = 1;
	nodes_[n->ino] = n;
	children_[std::pair(dir, e.name)] = n->ino;
	return n;
}

bool Filesystem::fetchMetadata(const std::shared_ptr<Node> &n)
{
	std::string key;
	bool directory;
	{
		std::lock_guard lock(mutex_);
		key = n->key;
		directory = isDir(*n);
	}
	/* A directory's attributes live on its marker "name/", if there is one. */
	auto head = store_.head(key);
	if (!head && !(directory && head.error().code() == ENOENT))
		return false; /* gone, or the store failed: stat() will ask again */
	std::lock_guard lock(mutex_);
	if (n->data || n->key != key)
		return false;
	if (head) {
		Attributes attributes =
			fromObject(head->size, head->lastModified, head->metadata, directory, options_.defaults);
		/*
		 * The stored type wins (a symlink lists as a file); an old s3fs
		 * directory object ("dir", no slash) is for stat()'s full probe.
		 */
		if (!directory && attributes.type == FileType::Directory)
			return false;
		n->attributes = attributes;
		n->etag = head->etag;
		n->metadata = head->metadata;
		n->dirMarker = directory;
	} else {
		n->dirMarker = false;
	}
	return true;
}

Result<Filesystem::Node> Filesystem::newChild(Ino parent, std::string_view name, FileType type,
					      std::uint32_t permissions, const Caller &caller)
{
	auto childKeyResult = childKeyOf(parent, name);
	if (!childKeyResult)
		return childKeyResult.error();
	const std::string &key = *childKeyResult;
	/*
	 * Probe, not lookup(): the kernel gets no entry for a name that exists.
	 * A lookup that just found nothing (the kernel's, before a create)
	 * spares the second probe, as do the parent's names.
	 */
	{
		std::lock_guard lock(mutex_);
		if (localChildLocked(parent, name))
			return Error(EEXIST, "exists");
	}
	if (!knownAbsent(parent, name)) {
		auto existing = probe(key);
		if (!existing)
			return existing.error();
		if (*existing)
			return Error(EEXIST, "exists");
	}

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
	auto stored = remember(parent, name, std::move(n), true, true);
	/* A directory we just made holds nothing: lookups in it need no request for the TTL. */
	std::lock_guard lock(mutex_);
	keepNamesLocked(stored->ino, stored->nameChanges, {}, true);
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
	{
		/* Our files not uploaded yet are in it too. */
		std::lock_guard lock(mutex_);
		if (hasLocalChildLocked((*n)->ino))
			return Error(ENOTEMPTY, "directory not empty");
	}
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
	std::lock_guard lock(mutex_);
	dropNamesLocked((*n)->ino);
	dropChildLocked(parent, name);
	noteNameLocked(parent, name, false, true);
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
	/* Open somewhere: the bytes it may still read come into memory before the object goes. */
	auto kept = keepContents(*n);
	if (!kept)
		return kept.error();
	bool local;
	{
		std::lock_guard lock(mutex_);
		local = (*n)->local;
	}
	/* Never uploaded: there is no object to delete. */
	if (!local) {
		auto r = store_.remove((*n)->key);
		if (!r)
			return r.error();
	}
	retire(*n);
	std::lock_guard lock(mutex_);
	dropChildLocked(parent, name);
	noteNameLocked(parent, name, false, true);
	return {};
}

Result<void> Filesystem::keepContents(const std::shared_ptr<Node> &n)
{
	std::shared_ptr<FileData> data;
	{
		std::lock_guard lock(mutex_);
		if (n->opens == 0 || n->orphaned || n->attributes.type != FileType::Regular)
			return {};
		auto d = fileDataLocked(*n);
		if (!d)
			return d.error();
		data = *d;
	}
	/*
	 * Rewriting every byte as dirty data makes the file independent of its
	 * object: reads never go to S3 again. Writes wait meanwhile, so none
	 * is overwritten by the older bytes.
	 */
	std::unique_lock gate(*n->writeGate);
	/* The file is never uploaded again: its open upload goes (a parked beginning is made readable first). */
	auto stopped = data->stopStreaming();
	if (!stopped)
		return stopped.error();
	std::vector<std::byte> buffer(std::size_t(1) << 20);
	std::uint64_t size = data->size();
	for (std::uint64_t offset = 0; offset < size;) {
		std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - offset));
		auto got = data->read(offset, std::span(buffer.data(), want));
		if (!got)
			return got.error();
		if (*got == 0)
			break;
		auto written = data->write(offset, std::span<const std::byte>(buffer.data(), *got));
		if (!written)
			return Error(written.error().code(),
				     "cannot keep the open file's contents in memory for unlink: " +
					     written.error().message());
		offset += *got;
	}
	return {};
}

void Filesystem::retire(const std::shared_ptr<Node> &n)
{
	std::lock_guard lock(mutex_);
	/* Its name is gone: it is nobody's file to list or to upload any more. */
	setLocalLocked(*n, false);
	if (n->opens > 0) {
		n->orphaned = true;
		return;
	}
	/* Closed with unsaved data (a failed upload): the name is gone, so is the data. */
	if (n->data) {
		n->data->discard();
		n->data.reset();
	}
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
	auto stored = remember(parent, name, std::move(n), true, true);
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

	/*
	 * Names appear under both parents, and a moved directory's children
	 * with it: no absence survives, and a listing of either parent running
	 * meanwhile is not kept. Done again at the end, when both parents'
	 * names follow the move (or, if it failed midway, are forgotten).
	 */
	bool moved = false;
	auto clearAbsent = [&](bool done) {
		std::lock_guard lock(mutex_);
		absent_.clear();
		++namesGeneration_;
		/* Names change under both parents, and keys below a moved directory: no cached listing survives. */
		++renames_;
		if (done && moved) {
			noteNameLocked(parent, name, false, true);
			noteNameLocked(newParent, newName, true, true);
			return;
		}
		for (Ino dir : { parent, newParent }) {
			if (auto d = nodes_.find(dir); d != nodes_.end())
				++d->second->nameChanges;
			/* A rename that failed midway may have left either name: ask again. */
			if (done)
				dropNamesLocked(dir);
		}
	};
	clearAbsent(false);
	struct AtExit {
		std::function<void()> run;
		~AtExit() { run(); }
	} clearAgain{ [&] { clearAbsent(true); } };

	/* A file of ours not uploaded yet: it goes up first, so that there is an object to copy. */
	std::shared_ptr<Node> moving = known(parent, name, false);
	bool movingLocal = false;
	if (moving) {
		std::lock_guard lock(mutex_);
		movingLocal = moving->local;
	}
	if (movingLocal) {
		auto sent = upload(moving);
		if (!sent)
			return sent.error();
	}
	auto source = probe(*fromKey);
	if (!source)
		return source.error();
	if (!*source)
		return Error(ENOENT, "no such file or directory");
	bool sourceDir = (*source)->attributes.type == FileType::Directory;
	if (sourceDir && toKey->starts_with(*fromKey + "/"))
		return Error(EINVAL, "cannot move a directory into itself");
	auto target = probe(*toKey);
	if (!target)
		return target.error();
	std::shared_ptr<Node> localTarget;
	{
		std::lock_guard lock(mutex_);
		localTarget = localChildLocked(newParent, newName);
	}
	if (!*target && localTarget) {
		/* Ours, not uploaded yet: it exists all the same, as a file. */
		Node placeholder;
		placeholder.key = *toKey;
		placeholder.attributes.type = FileType::Regular;
		*target = std::move(placeholder);
	}
	if (*target) {
		if (noReplace)
			return Error(EEXIST, "target exists");
		bool targetDir = (*target)->attributes.type == FileType::Directory;
		if (sourceDir && !targetDir)
			return Error(ENOTDIR, "target is not a directory");
		if (!sourceDir && targetDir)
			return Error(EISDIR, "target is a directory");
		if (targetDir) {
			auto empty = directoryEmpty((*target)->key);
			if (!empty)
				return empty.error();
			if (!*empty)
				return Error(ENOTEMPTY, "target directory not empty");
		}
	}
	if (sourceDir) {
		auto r = moveDirectory(parent, name, newParent, newName, **source, *toKey + "/", target->has_value());
		moved = r.ok();
		return r;
	}

	/* Unsaved data goes up first, so the copy carries it. */
	if (moving) {
		auto sent = upload(moving);
		if (!sent)
			return sent.error();
	}
	/* A file replaced while open keeps its contents for its readers, as after unlink. */
	std::shared_ptr<Node> replaced = *target ? known(newParent, newName, false) : nullptr;
	if (replaced == moving)
		replaced.reset();
	if (replaced) {
		auto kept = keepContents(replaced);
		if (!kept)
			return kept.error();
	}
	auto copied = store_.copy(*fromKey, *toKey, MetadataMode::Keep, PutOptions{});
	if (!copied)
		return copied.error();
	if (replaced)
		retire(replaced);
	auto removed = store_.remove(*fromKey);
	if (!removed)
		return removed.error();
	moved = true;

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

Result<void> Filesystem::moveDirectory(Ino parent, std::string_view name, Ino newParent, std::string_view newName,
				       const Node &source, const std::string &to, bool replacing)
{
	const std::string &from = source.key;

	/* Unsaved data of open files below goes up first, so the copies carry it. */
	std::vector<std::shared_ptr<Node>> pending;
	{
		std::lock_guard lock(mutex_);
		for (auto &[ino, n] : nodes_)
			if (!n->orphaned && n->data && n->data->dirty() && n->key.starts_with(from))
				pending.push_back(n);
	}
	for (auto &n : pending) {
		auto sent = upload(n);
		if (!sent)
			return sent.error();
	}

	/* Every key below, all pages; in byte order, so the table update can search it. */
	std::vector<ListedObject> objects;
	ListRequest list;
	list.prefix = from;
	list.delimiter = "";
	do {
		auto page = store_.list(list);
		if (!page)
			return page.error();
		for (ListedObject &o : page->objects)
			objects.push_back(std::move(o));
		list.continuationToken = page->nextToken;
	} while (!list.continuationToken.empty());
	std::sort(objects.begin(), objects.end(),
		  [](const ListedObject &a, const ListedObject &b) { return a.key < b.key; });
	auto newKey = [&](const std::string &key) { return to + key.substr(from.size()); };
	for (const ListedObject &o : objects) {
		if (o.key.size() - from.size() + to.size() > kMaxKeyBytes)
			return Error(ENAMETOOLONG, "'" + newKey(o.key) + "' would pass S3's 1024-byte key limit");
		if (o.size > kMaxPutSize)
			return Error(EFBIG, "'" + o.key + "' is over 5 GiB, past what one CopyObject can move");
	}

	bool hadMarker = !objects.empty() && objects.front().key == from;
	/* An old s3fs directory object ("dir", no slash) holds the attributes: it becomes the marker. */
	const std::string oldStyleKey = from.substr(0, from.size() - 1);
	bool oldStyle = false;
	Attributes markerAttributes = source.attributes;
	Metadata markerMetadata = source.metadata;
	if (!hadMarker) {
		auto head = store_.head(oldStyleKey);
		if (head) {
			Attributes a = fromObject(head->size, head->lastModified, head->metadata, false, options_.defaults);
			oldStyle = a.type == FileType::Directory;
			if (oldStyle) {
				markerAttributes = a;
				markerMetadata = head->metadata;
			}
		} else if (head.error().code() != ENOENT) {
			return head.error();
		}
	}

	std::vector<std::string> etags(objects.size());
	std::vector<char> done;
	auto copied = forEachParallel(objects.size(), kDirectoryCopies, done, [&](std::size_t i) -> Result<void> {
		auto etag = store_.copy(objects[i].key, newKey(objects[i].key), MetadataMode::Keep, PutOptions{});
		if (!etag)
			return Error(etag.error().code(), "copying '" + objects[i].key + "': " + etag.error().message());
		etags[i] = *etag;
		return {};
	});
	if (!copied) {
		/* The source is whole; take back the copies (best effort), but not a marker that replaced the target's. */
		std::vector<std::string> undo;
		for (std::size_t i = 0; i < objects.size(); ++i)
			if (done[i] && !(replacing && objects[i].key == from))
				undo.push_back(newKey(objects[i].key));
		if (!undo.empty())
			(void)store_.removeMany(undo);
		return copied.error();
	}

	std::string markerEtag;
	if (!hadMarker && (objects.empty() || replacing || oldStyle)) {
		/* The destination must exist, with the source's attributes, not the replaced directory's. */
		PutOptions put;
		put.metadata = markerMetadata;
		storeAttributes(markerAttributes, put.metadata);
		put.contentType = std::string(kDirectoryContentType);
		auto etag = store_.put(to, {}, put);
		if (!etag)
			return etag.error();
		markerEtag = *etag;
	}

	std::vector<std::string> old;
	old.reserve(objects.size() + 1);
	for (const ListedObject &o : objects)
		old.push_back(o.key);
	if (oldStyle)
		old.push_back(oldStyleKey);
	auto removed = store_.removeMany(old);
	if (!removed)
		return removed.error();
	if (!removed->empty()) {
		const KeyError &e = removed->front();
		return Error(e.errnum ? e.errnum : EIO, "the copies are made but '" + e.key +
								 "' could not be deleted: " + e.message);
	}

	std::lock_guard lock(mutex_);
	children_.erase(std::pair(newParent, std::string(newName)));
	auto child = children_.find(std::pair(parent, std::string(name)));
	if (child != children_.end()) {
		Ino ino = child->second;
		children_.erase(child);
		children_[std::pair(newParent, std::string(newName))] = ino;
		if (auto it = nodes_.find(ino); it != nodes_.end()) {
			it->second->parent = newParent;
			it->second->name = std::string(newName);
		}
	}
	/* Known descendants get their new keys; open files reopen their data from the copies. */
	for (auto &[ino, n] : nodes_) {
		if (n->orphaned || !n->key.starts_with(from))
			continue;
		auto found = std::lower_bound(objects.begin(), objects.end(), n->key,
					      [](const ListedObject &o, const std::string &k) { return o.key < k; });
		if (found != objects.end() && found->key == n->key)
			n->etag = etags[static_cast<std::size_t>(found - objects.begin())];
		if (n->key == from) {
			n->dirMarker = hadMarker || !markerEtag.empty();
			if (!markerEtag.empty())
				n->etag = markerEtag;
		}
		n->key = newKey(n->key);
		if (n->data && !n->data->dirty())
			n->data.reset();
	}
	return {};
}

Result<void> Filesystem::storeMetadata(Node &n, const MetadataEdit &edit)
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
	if (edit) {
		auto edited = edit(metadata);
		if (!edited)
			return edited.error();
	}
	storeAttributes(n.attributes, metadata);
	if (metadataBytes(metadata) > kMaxMetadataBytes)
		return Error(E2BIG, "metadata of '" + n.key + "' would pass S3's 2 KiB user-metadata limit");
	PutOptions options;
	options.metadata = metadata;
	options.contentType = isDir(n) ? std::string(kDirectoryContentType) : contentType;

	Result<std::string> etag = exists ? store_.copy(n.key, n.key, MetadataMode::Replace, options)
					  : store_.put(n.key, {}, options); /* an implied directory gets a marker */
	if (!etag)
		return etag.error();
	n.etag = *etag;
	n.metadata = std::move(metadata);
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
		std::shared_lock gate(*n->writeGate);
		auto r = (*data)->truncate(*request.size);
		if (!r)
			return r.error();
		gate.unlock();
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
		if ((data && data->dirty()) || n->orphaned) {
			/* The pending upload carries the new attributes (an unlinked file has none: memory only). */
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
	n->metadata = copy.metadata;
	n->fresh = SteadyClock::now() + options_.attrTimeout;
	/* The rewrite gave the object a new ETag: clean data is re-read against it. */
	if (n->data && !n->data->dirty())
		n->data.reset();
	return Attr{ ino, copy.attributes, isDir(copy) ? 2u : 1u };
}

Result<void> Filesystem::editXattrs(Ino ino, const std::function<Result<void>(Xattrs &)> &edit)
{
	auto current = getattr(ino);
	if (!current)
		return current.error();
	if (ino == kRootIno)
		return Error(EPERM, "the bucket root has no object to hold extended attributes");
	auto found = node(ino);
	if (!found)
		return found.error();
	std::shared_ptr<Node> n = *found;
	MetadataEdit apply = [&](Metadata &metadata) -> Result<void> {
		auto it = metadata.find(std::string(kMetaXattr));
		Xattrs xattrs = it == metadata.end() ? Xattrs{} : parseXattrs(it->second);
		auto r = edit(xattrs);
		if (!r)
			return r;
		if (xattrs.empty())
			metadata.erase(std::string(kMetaXattr));
		else
			metadata[std::string(kMetaXattr)] = formatXattrs(xattrs);
		return {};
	};

	Node copy;
	{
		std::lock_guard lock(mutex_);
		if ((n->data && n->data->dirty()) || n->orphaned) {
			/* The pending upload carries them (an unlinked file keeps them in memory). */
			Metadata metadata = n->metadata;
			auto r = apply(metadata);
			if (!r)
				return r;
			Attributes changed = n->attributes;
			changed.ctime = now();
			storeAttributes(changed, metadata);
			if (metadataBytes(metadata) > kMaxMetadataBytes)
				return Error(E2BIG, "metadata of '" + n->key + "' would pass S3's 2 KiB user-metadata limit");
			n->metadata = std::move(metadata);
			n->attributes = changed;
			return {};
		}
		copy = *n;
	}
	copy.attributes.ctime = now();
	auto r = storeMetadata(copy, apply);
	if (!r)
		return r;

	std::lock_guard lock(mutex_);
	n->attributes.ctime = copy.attributes.ctime;
	n->etag = copy.etag;
	n->dirMarker = copy.dirMarker;
	n->metadata = copy.metadata;
	n->fresh = SteadyClock::now() + options_.attrTimeout;
	if (n->data && !n->data->dirty())
		n->data.reset();
	return {};
}

Result<Xattrs> Filesystem::xattrsOf(Ino ino)
{
	/* getattr() refreshes the metadata once the TTL has passed. */
	auto current = getattr(ino);
	if (!current)
		return current.error();
	auto n = node(ino);
	if (!n)
		return n.error();
	std::lock_guard lock(mutex_);
	auto it = (*n)->metadata.find(std::string(kMetaXattr));
	if (it == (*n)->metadata.end())
		return Xattrs{};
	return parseXattrs(it->second);
}

Result<std::string> Filesystem::getxattr(Ino ino, std::string_view name)
{
	/*
	 * Asked on every write (security.capability) and by `ls -l` for every
	 * file (security.selinux, system.posix_acl_*): answered before anything
	 * else. EOPNOTSUPP, not ENODATA: the namespace is not supported at all,
	 * and ls then stops asking for the rest of the mount (ENODATA cost
	 * two FUSE round trips per listed file).
	 */
	if (!storedXattr(name))
		return Error(EOPNOTSUPP, "only user. extended attributes are stored");
	auto found = xattrsOf(ino);
	if (!found)
		return found.error();
	const Xattrs &xattrs = *found;
	auto value = xattrs.find(std::string(name));
	if (value == xattrs.end())
		return Error(ENODATA, "no such attribute");
	return value->second;
}

Result<std::vector<std::string>> Filesystem::listxattr(Ino ino)
{
	auto found = xattrsOf(ino);
	if (!found)
		return found.error();
	const Xattrs &xattrs = *found;
	std::vector<std::string> names;
	for (const auto &[name, value] : xattrs)
		if (storedXattr(name)) /* s3fs may hold others (system.posix_acl_*): not ours to show */
			names.push_back(name);
	return names;
}

Result<void> Filesystem::setxattr(Ino ino, std::string_view name, std::string_view value, XattrFlags flags)
{
	if (!storedXattr(name))
		return Error(EOPNOTSUPP, "only user. extended attributes can be stored");
	auto valid = checkXattrName(name);
	if (!valid)
		return valid;
	return editXattrs(ino, [&](Xattrs &xattrs) -> Result<void> {
		bool exists = xattrs.count(std::string(name)) > 0;
		if (flags == XattrFlags::Create && exists)
			return Error(EEXIST, "attribute exists");
		if (flags == XattrFlags::Replace && !exists)
			return Error(ENODATA, "no such attribute");
		xattrs[std::string(name)] = std::string(value);
		return {};
	});
}

Result<void> Filesystem::removexattr(Ino ino, std::string_view name)
{
	if (!storedXattr(name))
		return Error(EOPNOTSUPP, "only user. extended attributes are stored");
	return editXattrs(ino, [&](Xattrs &xattrs) -> Result<void> {
		if (xattrs.erase(std::string(name)) == 0)
			return Error(ENODATA, "no such attribute");
		return {};
	});
}

Result<void> Filesystem::access(Ino ino, int mask, const Caller &caller, std::span<const std::uint32_t> groups)
{
	auto current = getattr(ino);
	if (!current)
		return current.error();
	const Attributes &a = current->attributes;
	if (mask == F_OK)
		return {};
	if (caller.uid == 0) {
		/* root reads and writes anything, and executes what anyone may execute (or searches any directory). */
		if (!(mask & X_OK) || a.type == FileType::Directory || (a.permissions & 0111))
			return {};
		return Error(EACCES, "no execute bit set");
	}
	unsigned bits;
	if (caller.uid == a.uid)
		bits = (a.permissions >> 6) & 7;
	else if (caller.gid == a.gid || std::find(groups.begin(), groups.end(), a.gid) != groups.end())
		bits = (a.permissions >> 3) & 7;
	else
		bits = a.permissions & 7;
	unsigned wanted = static_cast<unsigned>(mask) & 7;
	if ((bits & wanted) != wanted)
		return Error(EACCES, "permission denied");
	return {};
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
	/* The kernel's lookup of the name usually just found nothing: no need to ask again. */
	auto existing = knownAbsent(parent, name) ? Result<Attr>(Error(ENOENT, "no such file or directory"))
						  : lookup(parent, name);
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
	/*
	 * Nothing is sent: the first flush (close, fsync) makes the object.
	 * Until then the name lives in this mount only (lookup, readdir).
	 */
	n.metadata = toMetadata(n.attributes);
	n.local = true;
	auto stored = remember(parent, name, std::move(n), true, true);
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
		std::shared_lock gate(*(*n)->writeGate);
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
	auto &[n, data] = *file;
	auto r = data->read(offset, into);
	/* The read may have switched to an object another client wrote: show its size and ETag. */
	if (auto base = data->base()) {
		std::lock_guard lock(mutex_);
		if (n->data == data && base->etag != n->etag && !data->dirty()) {
			n->etag = base->etag;
			n->attributes.size = base->size;
		}
	}
	return r;
}

Result<std::size_t> Filesystem::write(Ino ino, std::uint64_t offset, std::span<const std::byte> bytes)
{
	auto file = fileOf(ino);
	if (!file)
		return file.error();
	auto &[n, data] = *file;
	/* Unlink waits for writes in progress before it pulls the contents in (keepContents). */
	std::shared_lock gate(*n->writeGate);
	std::size_t done = 0;
	std::optional<Error> failure;
	/* What to upload when the pool is full of dirty data: this file first, then the others, largest first. */
	std::vector<std::shared_ptr<Node>> relief;
	bool reliefListed = false;
	std::size_t nextRelief = 0;
	while (done < bytes.size()) {
		auto r = data->write(offset + done, bytes.subspan(done));
		if (r) {
			/* A short count: the rest is retried and says why it stopped. */
			done += *r;
			continue;
		}
		if (r.error().code() != ENOBUFS) {
			failure = r.error();
			break;
		}
		/* First the cheap way: parts of this file already in S3 give their memory back. */
		startStream(*n, *data);
		auto released = data->releaseUploaded();
		if (released && *released > 0)
			continue;
		if (!reliefListed) {
			reliefListed = true;
			relief.push_back(n);
			std::vector<std::pair<std::uint64_t, std::shared_ptr<Node>>> others;
			{
				std::lock_guard lock(mutex_);
				for (auto &[otherIno, other] : nodes_)
					if (other != n && other->data && !other->orphaned && other->data->dirty())
						others.emplace_back(0, other);
			}
			for (auto &[bytesDirty, other] : others) {
				std::shared_ptr<FileData> otherData;
				{
					std::lock_guard lock(mutex_);
					otherData = other->data;
				}
				bytesDirty = otherData ? otherData->dirtyBytes() : 0;
			}
			std::stable_sort(others.begin(), others.end(),
					 [](const auto &a, const auto &b) { return a.first > b.first; });
			for (auto &entry : others)
				relief.push_back(entry.second);
		}
		if (nextRelief == relief.size()) {
			/* Nothing left to upload and still no room: the write cannot fit in memory_limit. */
			failure = Error(ENOSPC, "memory_limit is full of unsaved data: " + r.error().message());
			break;
		}
		/* Uploading releases the file's dirty blocks; then the write is retried. */
		auto sent = upload(relief[nextRelief++]);
		if (!sent) {
			failure = Error(EIO, "no memory for the write, and uploading to make room failed: " +
					     sent.error().message());
			break;
		}
	}
	if (done > 0) {
		{
			std::lock_guard lock(mutex_);
			n->attributes.size = data->size();
			n->attributes.mtime = n->attributes.ctime = now();
		}
		startStream(*n, *data);
	}
	gate.unlock();
	/* A short count when part was written: the caller retries the rest and gets the error then. */
	if (done == 0 && failure)
		return *failure;
	return done;
}

void Filesystem::startStream(Node &n, FileData &data)
{
	if (!data.streamWanted())
		return;
	Metadata metadata;
	{
		std::lock_guard lock(mutex_);
		if (n.orphaned)
			return;
		metadata = n.metadata;
		storeAttributes(n.attributes, metadata);
	}
	data.startStream(metadata);
}

Result<std::uint64_t> Filesystem::upload(const std::shared_ptr<Node> &n)
{
	std::shared_ptr<FileData> data;
	Metadata metadata;
	{
		std::lock_guard lock(mutex_);
		data = n->data;
		if (!data || n->orphaned)
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
		/* In S3 now: a listing running meanwhile may or may not show it, so it is not kept. */
		if (n->local && !n->orphaned) {
			setLocalLocked(*n, false);
			noteNameLocked(n->parent, n->name, true, true);
		}
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
	/* Declared before the lock, so destroyed after the unlock: it may wait for its readahead GETs. */
	std::shared_ptr<FileData> last;
	std::lock_guard lock(mutex_);
	Node &cur = **n;
	if (cur.opens > 0)
		--cur.opens;
	if (cur.opens == 0 && cur.orphaned) {
		/* The last descriptor of an unlinked file: its contents go now. */
		if (cur.data)
			cur.data->discard();
		last = std::move(cur.data);
		dropIfUnreferenced(cur.ino);
		return {};
	}
	/* Unsaved data (a failed upload) stays for flushAll(); else the memory goes now. */
	if (cur.opens == 0 && cur.data && !cur.data->dirty())
		last = std::move(cur.data);
	return {};
}

Result<std::uint64_t> Filesystem::flushAll()
{
	std::vector<std::shared_ptr<Node>> withData;
	{
		std::lock_guard lock(mutex_);
		for (auto &[ino, n] : nodes_)
			if (n->data && n->data->dirty() && !n->orphaned)
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
