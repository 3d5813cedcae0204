// Directory listings: names from keys and common prefixes, implicit directories, conflicts, streaming.
#include "fs/directory.h"

#include <algorithm>
#include <cerrno>
#include <initializer_list>
#include <utility>

#include "fs/names.h"
#include "s3/errors.h"

namespace vfs::fs {

namespace {

constexpr std::string_view kFolderSuffix = "_$folder$";

/*
 * '0' is the byte after '/': every key "name/..." sorts below "name0", and
 * "name_$folder$" above both.
 */
std::string_view settleSuffix(const DirectoryOptions &options)
{
	return options.legacyFolderMarkers ? kFolderSuffix : std::string_view("0");
}

/* @s compared with the concatenation of @parts, without building it. */
int compareWithConcat(std::string_view s, std::initializer_list<std::string_view> parts)
{
	for (std::string_view p : parts) {
		int c = s.substr(0, p.size()).compare(p);
		if (c != 0)
			return c;
		s.remove_prefix(p.size());
	}
	return s.empty() ? 0 : 1;
}

} /* namespace */

std::string SkippedKey::toString() const
{
	/* Keys come from whoever wrote the bucket: escape them, bound them. */
	return "skipped key '" + s3::logSafe(key, 512) + "': " + reason;
}

std::string_view invalidNameReason(std::string_view name)
{
	if (isValidName(name))
		return {};
	if (name.empty())
		return "empty path component";
	if (name == "." || name == "..")
		return "'.' or '..' path component";
	if (name.size() > kMaxNameBytes)
		return "path component longer than 255 bytes";
	if (name.find('\0') != std::string_view::npos)
		return "NUL byte in the name";
	return "'/' in the name";
}

DirectoryListing::DirectoryListing(std::string prefix, SkipLog log, DirectoryOptions options)
	: prefix_(std::move(prefix)), log_(std::move(log)), options_(options)
{
}

void DirectoryListing::skip(const std::string &key, std::string reason)
{
	if (log_)
		log_(SkippedKey{ key, std::move(reason) });
}

bool DirectoryListing::settled(const std::string &name) const
{
	return compareWithConcat(highWater_, { prefix_, name, settleSuffix(options_) }) >= 0;
}

void DirectoryListing::addPage(const ListPage &page)
{
	for (const ListedObject &o : page.objects)
		addObject(o);
	for (const std::string &p : page.commonPrefixes)
		addPrefix(p);

	/* S3 lists in byte order: the page's last key or prefix bounds everything listed so far. */
	auto raise = [this](const std::string &item) {
		if (item.compare(0, prefix_.size(), prefix_) == 0 && item > highWater_)
			highWater_ = item;
	};
	if (!page.objects.empty())
		raise(page.objects.back().key);
	if (!page.commonPrefixes.empty())
		raise(page.commonPrefixes.back());
}

void DirectoryListing::addObject(const ListedObject &object)
{
	const std::string &key = object.key;
	if (key.size() < prefix_.size() || key.compare(0, prefix_.size(), prefix_) != 0) {
		skip(key, "outside the listed prefix");
		return;
	}
	std::string_view rel = std::string_view(key).substr(prefix_.size());
	if (rel.empty()) {
		hasMarker_ = true;
		return;
	}

	/* "name/" is a marker and "name/more" an implicit directory: both show "name". */
	std::size_t slash = rel.find('/');
	if (slash != std::string_view::npos) {
		addDirectory(std::string(rel.substr(0, slash)), key);
		return;
	}
	if (options_.legacyFolderMarkers && rel.size() > kFolderSuffix.size() && rel.ends_with(kFolderSuffix)) {
		addDirectory(std::string(rel.substr(0, rel.size() - kFolderSuffix.size())), key);
		return;
	}

	std::string name(rel);
	if (std::string_view reason = invalidNameReason(name); !reason.empty()) {
		skip(key, std::string(reason));
		return;
	}
	if (takenDirectories_.count(name)) {
		skip(key, "shadowed by the directory of the same name");
		return;
	}
	auto it = pending_.find(name);
	if (it != pending_.end() && it->second.type == EntryType::Directory) {
		skip(key, "shadowed by the directory of the same name");
		return;
	}
	DirEntry e;
	e.name = name;
	e.type = EntryType::Object;
	e.key = key;
	e.size = object.size;
	e.etag = object.etag;
	e.lastModified = object.lastModified;
	pending_[std::move(name)] = std::move(e);
}

void DirectoryListing::addPrefix(const std::string &commonPrefix)
{
	if (commonPrefix.size() <= prefix_.size() || commonPrefix.compare(0, prefix_.size(), prefix_) != 0) {
		skip(commonPrefix, "outside the listed prefix");
		return;
	}
	std::string_view rel = std::string_view(commonPrefix).substr(prefix_.size());
	std::size_t slash = rel.find('/');
	if (slash == std::string_view::npos) {
		skip(commonPrefix, "common prefix without '/'");
		return;
	}
	addDirectory(std::string(rel.substr(0, slash)), commonPrefix);
}

void DirectoryListing::addDirectory(std::string name, const std::string &sourceKey)
{
	if (std::string_view reason = invalidNameReason(name); !reason.empty()) {
		skip(sourceKey, std::string(reason));
		return;
	}
	if (takenDirectories_.count(name))
		return;
	auto it = pending_.find(name);
	if (it != pending_.end()) {
		if (it->second.type == EntryType::Object) {
			skip(it->second.key, "shadowed by the directory of the same name");
			it->second = DirEntry{ name, EntryType::Directory, prefix_ + name + "/", 0, {}, {} };
		}
		return;
	}
	DirEntry e{ name, EntryType::Directory, prefix_ + name + "/", 0, {}, {} };
	pending_.emplace(std::move(name), std::move(e));
}

std::vector<DirEntry> DirectoryListing::takeReady()
{
	std::vector<DirEntry> ready;
	for (auto it = pending_.begin(); it != pending_.end();) {
		/* A directory cannot turn into anything else; an object can until settled. */
		if (it->second.type == EntryType::Directory || settled(it->first)) {
			if (it->second.type == EntryType::Directory)
				takenDirectories_.insert(it->first);
			ready.push_back(std::move(it->second));
			it = pending_.erase(it);
		} else {
			++it;
		}
	}
	/* Taken directories need remembering only while their keys may still come. */
	for (auto it = takenDirectories_.begin(); it != takenDirectories_.end();)
		it = settled(*it) ? takenDirectories_.erase(it) : std::next(it);
	return ready;
}

std::vector<DirEntry> DirectoryListing::finish()
{
	std::vector<DirEntry> rest;
	rest.reserve(pending_.size());
	for (auto &[name, entry] : pending_)
		rest.push_back(std::move(entry));
	pending_.clear();
	takenDirectories_.clear();
	return rest;
}

Result<DirectoryContents> listDirectory(ObjectStore &store, const std::string &prefix, const SkipLog &log,
					DirectoryOptions options, unsigned pageSize)
{
	DirectoryReader reader(store, prefix, log, options, pageSize);
	DirectoryContents contents;
	while (!reader.done()) {
		auto batch = reader.next();
		if (!batch)
			return batch.error();
		for (DirEntry &e : *batch)
			contents.entries.push_back(std::move(e));
	}
	std::sort(contents.entries.begin(), contents.entries.end(),
		  [](const DirEntry &a, const DirEntry &b) { return a.name < b.name; });
	contents.hasMarker = reader.hasMarker();
	return contents;
}

DirectoryReader::DirectoryReader(ObjectStore &store, std::string prefix, SkipLog log, DirectoryOptions options,
				 unsigned pageSize)
	: store_(store), prefix_(prefix), pageSize_(pageSize), listing_(std::move(prefix), std::move(log), options)
{
}

Result<std::vector<DirEntry>> DirectoryReader::next()
{
	/* A hostile server could send empty pages with fresh tokens forever. */
	constexpr unsigned kMaxEmptyPages = 100;
	unsigned emptyPages = 0;

	while (!done_) {
		ListRequest request;
		request.prefix = prefix_;
		request.delimiter = "/";
		request.continuationToken = token_;
		request.maxKeys = pageSize_;
		auto page = store_.list(request);
		if (!page)
			return page.error();
		if (!page->nextToken.empty() && page->nextToken == token_)
			return Error(EIO, "listing " + s3::logSafe(prefix_) + ": the continuation token does not advance");
		bool empty = page->objects.empty() && page->commonPrefixes.empty();
		if (empty && !page->nextToken.empty() && ++emptyPages > kMaxEmptyPages)
			return Error(EIO, "listing " + s3::logSafe(prefix_) + ": too many empty pages");

		listing_.addPage(*page);
		token_ = std::move(page->nextToken);
		done_ = token_.empty();

		auto ready = listing_.takeReady();
		if (done_)
			for (DirEntry &e : listing_.finish())
				ready.push_back(std::move(e));
		if (!ready.empty() || done_)
			return ready;
	}
	return std::vector<DirEntry>{};
}

} /* namespace vfs::fs */
