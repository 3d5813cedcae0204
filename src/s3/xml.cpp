// S3 XML over libxml2: parsing that never expands, fetches or prints, and escaped request bodies.
#include "common/text.h"
#include "s3/xml.h"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <mutex>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* QuietGenericErrors relies on libxml2's error handlers being per-thread. */
#ifndef LIBXML_THREAD_ENABLED
#error "libxml2 must be built with thread support"
#endif

namespace vfs::s3 {

namespace {

/*
 * Deliberately absent: NOENT (substitute entities), DTDLOAD/DTDATTR/DTDVALID
 * (read a DTD), XINCLUDE, HUGE (lift the depth and size limits) and RECOVER
 * (accept broken documents). NONET forbids fetching anything even if some
 * path tried to. NOERROR/NOWARNING keep libxml2 quiet; we report errors.
 */
constexpr int kParseOptions = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
			      XML_PARSE_NOCDATA;
static_assert((kParseOptions & (XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR |
				XML_PARSE_DTDVALID | XML_PARSE_XINCLUDE | XML_PARSE_HUGE |
				XML_PARSE_RECOVER)) == 0);

std::once_flag libxmlInit;

struct DocFree {
	void operator()(xmlDoc *doc) const { xmlFreeDoc(doc); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

struct CtxtFree {
	void operator()(xmlParserCtxt *ctxt) const { xmlFreeParserCtxt(ctxt); }
};

/* What the SAX hooks found, reached through ctxt->_private. */
struct ParseState {
	bool sawDoctype = false;
};

#if LIBXML_VERSION >= 21200
void ignoreStructuredError(void *, const xmlError *) {}
#else
void ignoreStructuredError(void *, xmlErrorPtr) {}
#endif

void ignoreGenericError(void *, const char *, ...) {}

/*
 * Called as soon as "<!DOCTYPE name ...>" is read, before any internal subset
 * (where entities are declared) is parsed. Stopping here means no entity
 * declaration is ever seen, let alone expanded or fetched.
 */
void refuseDoctype(void *ctx, const xmlChar *, const xmlChar *, const xmlChar *)
{
	auto *ctxt = static_cast<xmlParserCtxt *>(ctx);
	static_cast<ParseState *>(ctxt->_private)->sawDoctype = true;
	xmlStopParser(ctxt);
}

/*
 * Some libxml2 paths report through the generic handler instead of the
 * context's. It is per-thread state: point it at a no-op for the duration of
 * one parse, then put back whatever the thread had.
 */
class QuietGenericErrors
{
public:
	QuietGenericErrors()
		: func_(xmlGenericError), ctx_(xmlGenericErrorContext)
	{
		xmlSetGenericErrorFunc(nullptr, ignoreGenericError);
	}
	~QuietGenericErrors() { xmlSetGenericErrorFunc(ctx_, func_); }
	QuietGenericErrors(const QuietGenericErrors &) = delete;
	QuietGenericErrors &operator=(const QuietGenericErrors &) = delete;

private:
	xmlGenericErrorFunc func_;
	void *ctx_;
};

std::string prefixed(std::string_view what, std::string_view text)
{
	std::string s(what);
	s += " response: ";
	s += text;
	return s;
}

bool isBlank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trimBlanks(std::string_view s)
{
	while (!s.empty() && isBlank(s.front()))
		s.remove_prefix(1);
	while (!s.empty() && isBlank(s.back()))
		s.remove_suffix(1);
	return s;
}

Result<DocPtr> parseDocument(std::string_view body, std::string_view what, std::size_t maxBytes)
{
	maxBytes = std::min<std::size_t>(maxBytes, std::numeric_limits<int>::max());
	if (body.size() > maxBytes)
		return Error(EMSGSIZE, prefixed(what, "body of " + std::to_string(body.size()) +
						  " bytes is over the " + std::to_string(maxBytes) +
						  "-byte limit"));
	/*
	 * S3 sends blanks while a CompleteMultipartUpload or a copy is in
	 * progress, to keep the connection alive: they precede the XML
	 * declaration, which XML only allows at the very start.
	 */
	body = trimBlanks(body);
	if (body.empty())
		return Error(EBADMSG, prefixed(what, "empty body"));

	std::call_once(libxmlInit, [] { xmlInitParser(); });
	std::unique_ptr<xmlParserCtxt, CtxtFree> ctxt(xmlNewParserCtxt());
	if (!ctxt || !ctxt->sax)
		return Error(ENOMEM, prefixed(what, "cannot allocate an XML parser"));

	ParseState state;
	ctxt->_private = &state;
	ctxt->sax->internalSubset = refuseDoctype;
	ctxt->sax->serror = ignoreStructuredError;
	ctxt->sax->warning = nullptr;
	ctxt->sax->error = nullptr;

	DocPtr doc;
	{
		QuietGenericErrors quiet;
		doc.reset(xmlCtxtReadMemory(ctxt.get(), body.data(), static_cast<int>(body.size()),
					    nullptr, nullptr, kParseOptions));
	}
	if (state.sawDoctype)
		return Error(EBADMSG, prefixed(what, "refusing a document with a DOCTYPE "
						     "(S3 never sends one; it could declare entities)"));
	if (!doc || !ctxt->wellFormed) {
		std::string reason = "not well-formed XML";
		const xmlError *err = xmlCtxtGetLastError(ctxt.get());
		if (err && err->message) {
			reason += ": ";
			reason += logSafe(trimBlanks(reinterpret_cast<const char *>(err->message)));
			if (err->line > 0)
				reason += " (line " + std::to_string(err->line) + ")";
		}
		return Error(EBADMSG, prefixed(what, reason));
	}
	return doc;
}

bool hasName(const xmlNode *node, std::string_view name)
{
	if (!node || node->type != XML_ELEMENT_NODE || !node->name)
		return false;
	return name == reinterpret_cast<const char *>(node->name);
}

/* The first child element called @name (any namespace). */
const xmlNode *child(const xmlNode *parent, std::string_view name)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (hasName(c, name))
			return c;
	return nullptr;
}

template<typename Fn>
void forEachChild(const xmlNode *parent, std::string_view name, Fn &&fn)
{
	for (const xmlNode *c = parent->children; c; c = c->next)
		if (hasName(c, name))
			fn(c);
}

/* The node's own character data; leaf elements in S3 documents hold nothing else. */
std::string textOf(const xmlNode *node)
{
	std::string s;
	for (const xmlNode *c = node->children; c; c = c->next)
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content)
			s += reinterpret_cast<const char *>(c->content);
	return s;
}

std::string elementName(const xmlNode *node)
{
	return node && node->name ? logSafe(reinterpret_cast<const char *>(node->name)) : "?";
}

bool equalsNoCase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i) {
		char x = a[i] >= 'A' && a[i] <= 'Z' ? char(a[i] - 'A' + 'a') : a[i];
		char y = b[i] >= 'A' && b[i] <= 'Z' ? char(b[i] - 'A' + 'a') : b[i];
		if (x != y)
			return false;
	}
	return true;
}

/*
 * Undoes S3's encoding-type=url. AWS encodes like an HTML form: a space is
 * '+', a literal '+' is "%2B" (measured, and what boto3 and the Java SDK
 * decode). Ceph RGW writes a space as "%20" and '+' as "%2B". Neither ever
 * leaves a literal '+' meaning '+', so '+' -> ' ' is right for both.
 */
std::optional<std::string> formDecode(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (std::size_t i = 0; i < s.size(); ++i) {
		char c = s[i];
		if (c == '+') {
			out += ' ';
		} else if (c == '%') {
			if (i + 2 >= s.size())
				return std::nullopt;
			int hi = hexValue(s[i + 1]);
			int lo = hexValue(s[i + 2]);
			if (hi < 0 || lo < 0)
				return std::nullopt;
			out += static_cast<char>(hi * 16 + lo);
			i += 2;
		} else {
			out += c;
		}
	}
	return out;
}

/*
 * Reads typed fields out of an S3 document, remembering the first schema
 * violation so each parser reads top to bottom and checks once at the end.
 */
class Reader
{
public:
	explicit Reader(std::string_view what) : what_(what) {}

	bool failed() const { return !problem_.empty(); }
	Error error() const { return Error(EPROTO, prefixed(what_, problem_)); }

	void fail(std::string_view where, std::string problem)
	{
		if (failed())
			return;
		if (!where.empty()) {
			problem_ = where;
			problem_ += ": ";
		}
		problem_ += problem;
	}

	std::optional<std::string> find(const xmlNode *parent, std::string_view name)
	{
		const xmlNode *c = child(parent, name);
		if (!c)
			return std::nullopt;
		return textOf(c);
	}

	std::string text(const xmlNode *parent, std::string_view name)
	{
		return find(parent, name).value_or(std::string());
	}

	std::string required(const xmlNode *parent, std::string_view name, std::string_view where)
	{
		std::optional<std::string> v = find(parent, name);
		if (!v) {
			fail(where, missing(name));
			return {};
		}
		return std::move(*v);
	}

	/* A key, prefix or marker: URL-decoded when the document says it is encoded. */
	std::string key(const xmlNode *parent, std::string_view name, std::string_view where,
			bool urlEncoded, bool isRequired)
	{
		std::string v = isRequired ? required(parent, name, where) : text(parent, name);
		if (!urlEncoded)
			return v;
		std::optional<std::string> decoded = formDecode(v);
		if (!decoded) {
			fail(where, tag(name) + " '" + logSafe(v) + "' is not valid URL encoding");
			return {};
		}
		return std::move(*decoded);
	}

	std::uint64_t number(const xmlNode *parent, std::string_view name, std::string_view where,
			     bool isRequired)
	{
		std::optional<std::string> v = find(parent, name);
		if (!v) {
			if (isRequired)
				fail(where, missing(name));
			return 0;
		}
		std::string_view t = trimBlanks(*v);
		std::uint64_t n = 0;
		bool ok = !t.empty();
		for (char c : t) {
			if (c < '0' || c > '9' ||
			    n > (std::numeric_limits<std::uint64_t>::max() - unsigned(c - '0')) / 10) {
				ok = false;
				break;
			}
			n = n * 10 + unsigned(c - '0');
		}
		if (!ok) {
			fail(where, tag(name) + " '" + logSafe(*v) + "' is not an unsigned 64-bit number");
			return 0;
		}
		return n;
	}

	bool flag(const xmlNode *parent, std::string_view name, std::string_view where, bool isRequired)
	{
		std::optional<std::string> v = find(parent, name);
		if (!v) {
			if (isRequired)
				fail(where, missing(name));
			return false;
		}
		std::string_view t = trimBlanks(*v);
		if (equalsNoCase(t, "true"))
			return true;
		if (!equalsNoCase(t, "false"))
			fail(where, tag(name) + " '" + logSafe(*v) + "' is neither true nor false");
		return false;
	}

	std::optional<Timestamp> time(const xmlNode *parent, std::string_view name, std::string_view where,
				      bool isRequired)
	{
		std::optional<std::string> v = find(parent, name);
		if (!v || (!isRequired && trimBlanks(*v).empty())) {
			if (isRequired)
				fail(where, missing(name));
			return std::nullopt;
		}
		std::optional<Timestamp> t = parseIso8601(*v);
		if (!t)
			fail(where, tag(name) + " '" + logSafe(*v) + "' is not an ISO 8601 time");
		return t;
	}

private:
	static std::string tag(std::string_view name) { return "<" + std::string(name) + ">"; }
	static std::string missing(std::string_view name) { return tag(name) + " is missing"; }

	std::string what_;
	std::string problem_;
};

std::string indexed(std::string_view name, std::size_t index)
{
	return std::string(name) + "[" + std::to_string(index) + "]";
}

S3Error readError(const xmlNode *root, int httpStatus)
{
	Reader r("Error");
	S3Error e;
	e.httpStatus = httpStatus;
	e.code = std::string(trimBlanks(r.text(root, "Code")));
	if (e.code.empty())
		e.code = "HTTP" + std::to_string(httpStatus);
	e.message = r.text(root, "Message");
	e.requestId = std::string(trimBlanks(r.text(root, "RequestId")));
	e.hostId = std::string(trimBlanks(r.text(root, "HostId")));
	e.resource = r.text(root, "Resource");
	return e;
}

/*
 * The document's root, which must be <@name>. An <Error> root is the server
 * reporting a failure inside a 2xx answer: it becomes that error.
 */
Result<const xmlNode *> rootNamed(const DocPtr &doc, std::string_view name, std::string_view what)
{
	const xmlNode *root = xmlDocGetRootElement(doc.get());
	if (!root)
		return Error(EPROTO, prefixed(what, "no root element"));
	if (hasName(root, name))
		return root;
	if (hasName(root, "Error")) {
		S3Error e = readError(root, 200);
		return Error(toErrno(e), prefixed(what, "the server answered with an error: " + e.toString()));
	}
	return Error(EPROTO, prefixed(what, "root element is <" + elementName(root) + ">, expected <" +
						    std::string(name) + ">"));
}

template<typename T, typename Fill>
Result<T> parseAs(std::string_view body, std::size_t maxBytes, std::string_view rootName,
		  std::string_view what, Fill &&fill)
{
	Result<DocPtr> doc = parseDocument(body, what, maxBytes);
	if (!doc)
		return doc.error();
	Result<const xmlNode *> root = rootNamed(*doc, rootName, what);
	if (!root)
		return root.error();
	Reader r(what);
	T out;
	fill(r, *root, out);
	if (r.failed())
		return r.error();
	return out;
}

bool readEncodingType(Reader &r, const xmlNode *root)
{
	std::string enc(trimBlanks(r.text(root, "EncodingType")));
	if (enc.empty())
		return false;
	if (equalsNoCase(enc, "url"))
		return true;
	r.fail({}, "unknown <EncodingType> '" + logSafe(enc) + "'");
	return false;
}

void readCommonPrefixes(Reader &r, const xmlNode *root, bool urlEncoded, std::vector<std::string> &out)
{
	std::size_t i = 0;
	forEachChild(root, "CommonPrefixes", [&](const xmlNode *cp) {
		++i;
		/* One <Prefix> per <CommonPrefixes> on AWS; accept several, as some servers group them. */
		std::size_t before = out.size();
		forEachChild(cp, "Prefix", [&](const xmlNode *p) {
			std::string v = textOf(p);
			if (urlEncoded) {
				std::optional<std::string> d = formDecode(v);
				if (!d) {
					r.fail(indexed("CommonPrefixes", i),
					       "<Prefix> '" + logSafe(v) + "' is not valid URL encoding");
					return;
				}
				v = std::move(*d);
			}
			out.push_back(std::move(v));
		});
		if (out.size() == before)
			r.fail(indexed("CommonPrefixes", i), "<Prefix> is missing");
	});
}

/* Decodes one UTF-8 sequence at @i, advancing it; -1 when invalid (overlong, surrogate, > U+10FFFF). */
long nextCodePoint(std::string_view s, std::size_t &i)
{
	auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
	unsigned char b0 = byte(i);
	if (b0 < 0x80) {
		++i;
		return b0;
	}
	int len;
	long cp;
	long min;
	if ((b0 & 0xe0) == 0xc0) {
		len = 2;
		cp = b0 & 0x1f;
		min = 0x80;
	} else if ((b0 & 0xf0) == 0xe0) {
		len = 3;
		cp = b0 & 0x0f;
		min = 0x800;
	} else if ((b0 & 0xf8) == 0xf0) {
		len = 4;
		cp = b0 & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (i + std::size_t(len) > s.size())
		return -1;
	for (int k = 1; k < len; ++k) {
		unsigned char b = byte(i + std::size_t(k));
		if ((b & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (b & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	i += std::size_t(len);
	return cp;
}

/*
 * Appends @text as XML character data. Besides the five markup characters,
 * tab, LF and CR are written as character references: a parser normalises
 * literal CR and CRLF to LF, which would change a key that holds them.
 */
void appendEscaped(std::string &out, std::string_view text)
{
	for (char c : text) {
		switch (c) {
		case '&': out += "&amp;"; break;
		case '<': out += "&lt;"; break;
		case '>': out += "&gt;"; break;
		case '"': out += "&quot;"; break;
		case '\'': out += "&apos;"; break;
		case '\t': out += "&#9;"; break;
		case '\n': out += "&#10;"; break;
		case '\r': out += "&#13;"; break;
		default: out += c; break;
		}
	}
}

constexpr std::string_view kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

} /* namespace */

S3Error DeleteFailure::error() const
{
	S3Error e;
	e.code = code;
	e.message = message;
	e.resource = key;
	return e;
}

std::string normalizeEtag(std::string_view etag)
{
	etag = trimBlanks(etag);
	if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
		etag = etag.substr(1, etag.size() - 2);
	if (etag.empty())
		return {};
	std::string s;
	s.reserve(etag.size() + 2);
	s += '"';
	s += etag;
	s += '"';
	return s;
}

std::optional<Timestamp> parseIso8601(std::string_view text)
{
	using namespace std::chrono;
	std::string_view t = trimBlanks(text);
	std::size_t pos = 0;
	auto digits = [&](std::size_t n, int &out) {
		if (pos + n > t.size())
			return false;
		out = 0;
		for (std::size_t k = 0; k < n; ++k) {
			char c = t[pos + k];
			if (c < '0' || c > '9')
				return false;
			out = out * 10 + (c - '0');
		}
		pos += n;
		return true;
	};
	auto literal = [&](char c) {
		if (pos < t.size() && t[pos] == c) {
			++pos;
			return true;
		}
		return false;
	};

	int y, mo, d, h, mi, s;
	if (!digits(4, y) || !literal('-') || !digits(2, mo) || !literal('-') || !digits(2, d))
		return std::nullopt;
	if (!literal('T') && !literal('t'))
		return std::nullopt;
	if (!digits(2, h) || !literal(':') || !digits(2, mi) || !literal(':') || !digits(2, s))
		return std::nullopt;

	nanoseconds frac{ 0 };
	if (literal('.')) {
		std::size_t start = pos;
		long long ns = 0;
		int scale = 0;
		while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
			if (scale < 9) {
				ns = ns * 10 + (t[pos] - '0');
				++scale;
			}
			++pos;
		}
		if (pos == start)
			return std::nullopt;
		for (; scale < 9; ++scale)
			ns *= 10;
		frac = nanoseconds(ns);
	}

	minutes offset{ 0 };
	if (literal('Z') || literal('z')) {
		/* UTC */
	} else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
		int sign = t[pos] == '-' ? -1 : 1;
		++pos;
		int oh, om;
		if (!digits(2, oh))
			return std::nullopt;
		literal(':');
		if (!digits(2, om) || oh > 23 || om > 59)
			return std::nullopt;
		offset = minutes(sign * (oh * 60 + om));
	}
	if (pos != t.size())
		return std::nullopt;

	/* system_clock counts nanoseconds in 64 bits: years 1678..2261 only. */
	if (y < 1900 || y > 2200 || h > 23 || mi > 59 || s > 60)
		return std::nullopt;
	year_month_day ymd{ year{ y }, month{ unsigned(mo) }, day{ unsigned(d) } };
	if (!ymd.ok())
		return std::nullopt;
	auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + frac - offset;
	return time_point_cast<system_clock::duration>(tp);
}

bool xmlRepresentable(std::string_view text)
{
	for (std::size_t i = 0; i < text.size();) {
		long cp = nextCodePoint(text, i);
		if (cp < 0)
			return false;
		if (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
			return false;
		if (cp == 0xfffe || cp == 0xffff)
			return false;
	}
	return true;
}

Result<ListObjectsV2Result> parseListObjectsV2(std::string_view body, std::size_t maxBytes)
{
	return parseAs<ListObjectsV2Result>(
		body, maxBytes, "ListBucketResult", "ListObjectsV2",
		[](Reader &r, const xmlNode *root, ListObjectsV2Result &out) {
			out.urlEncoded = readEncodingType(r, root);
			bool enc = out.urlEncoded;
			out.bucket = r.text(root, "Name");
			out.prefix = r.key(root, "Prefix", {}, enc, false);
			out.delimiter = r.key(root, "Delimiter", {}, enc, false);
			out.startAfter = r.key(root, "StartAfter", {}, enc, false);
			out.continuationToken = r.text(root, "ContinuationToken");
			out.nextContinuationToken = r.text(root, "NextContinuationToken");
			out.isTruncated = r.flag(root, "IsTruncated", {}, true);
			out.maxKeys = r.number(root, "MaxKeys", {}, false);

			std::size_t i = 0;
			forEachChild(root, "Contents", [&](const xmlNode *c) {
				std::string where = indexed("Contents", ++i);
				ListedObject o;
				o.key = r.key(c, "Key", where, enc, true);
				o.lastModified = r.time(c, "LastModified", where, true).value_or(Timestamp{});
				o.etag = normalizeEtag(r.text(c, "ETag"));
				o.size = r.number(c, "Size", where, true);
				o.storageClass = std::string(trimBlanks(r.text(c, "StorageClass")));
				out.contents.push_back(std::move(o));
			});
			readCommonPrefixes(r, root, enc, out.commonPrefixes);

			if (child(root, "KeyCount"))
				out.keyCount = r.number(root, "KeyCount", {}, true);
			else
				out.keyCount = out.contents.size() + out.commonPrefixes.size();
			/* Without a token a truncated listing can neither go on nor be trusted as complete. */
			if (out.isTruncated && out.nextContinuationToken.empty())
				r.fail({}, "<IsTruncated> is true but <NextContinuationToken> is missing");
		});
}

Result<ListMultipartUploadsResult> parseListMultipartUploads(std::string_view body, std::size_t maxBytes)
{
	return parseAs<ListMultipartUploadsResult>(
		body, maxBytes, "ListMultipartUploadsResult", "ListMultipartUploads",
		[](Reader &r, const xmlNode *root, ListMultipartUploadsResult &out) {
			out.urlEncoded = readEncodingType(r, root);
			bool enc = out.urlEncoded;
			out.bucket = r.text(root, "Bucket");
			out.prefix = r.key(root, "Prefix", {}, enc, false);
			out.delimiter = r.key(root, "Delimiter", {}, enc, false);
			out.keyMarker = r.key(root, "KeyMarker", {}, enc, false);
			out.uploadIdMarker = r.text(root, "UploadIdMarker");
			out.nextKeyMarker = r.key(root, "NextKeyMarker", {}, enc, false);
			out.nextUploadIdMarker = r.text(root, "NextUploadIdMarker");
			out.isTruncated = r.flag(root, "IsTruncated", {}, true);
			out.maxUploads = r.number(root, "MaxUploads", {}, false);

			std::size_t i = 0;
			forEachChild(root, "Upload", [&](const xmlNode *u) {
				std::string where = indexed("Upload", ++i);
				MultipartUploadEntry e;
				e.key = r.key(u, "Key", where, enc, true);
				e.uploadId = r.required(u, "UploadId", where);
				e.initiated = r.time(u, "Initiated", where, false);
				e.storageClass = std::string(trimBlanks(r.text(u, "StorageClass")));
				out.uploads.push_back(std::move(e));
			});
			readCommonPrefixes(r, root, enc, out.commonPrefixes);

			if (out.isTruncated && out.nextKeyMarker.empty())
				r.fail({}, "<IsTruncated> is true but <NextKeyMarker> is missing");
		});
}

Result<InitiateMultipartUploadResult> parseInitiateMultipartUpload(std::string_view body, std::size_t maxBytes)
{
	return parseAs<InitiateMultipartUploadResult>(
		body, maxBytes, "InitiateMultipartUploadResult", "CreateMultipartUpload",
		[](Reader &r, const xmlNode *root, InitiateMultipartUploadResult &out) {
			out.bucket = r.text(root, "Bucket");
			out.key = r.text(root, "Key");
			out.uploadId = std::string(trimBlanks(r.required(root, "UploadId", {})));
			if (!r.failed() && out.uploadId.empty())
				r.fail({}, "<UploadId> is empty");
		});
}

Result<CompleteMultipartUploadResult> parseCompleteMultipartUpload(std::string_view body, std::size_t maxBytes)
{
	return parseAs<CompleteMultipartUploadResult>(
		body, maxBytes, "CompleteMultipartUploadResult", "CompleteMultipartUpload",
		[](Reader &r, const xmlNode *root, CompleteMultipartUploadResult &out) {
			out.location = r.text(root, "Location");
			out.bucket = r.text(root, "Bucket");
			out.key = r.text(root, "Key");
			out.etag = normalizeEtag(r.text(root, "ETag"));
		});
}

Result<CopyResult> parseCopyObjectResult(std::string_view body, std::size_t maxBytes)
{
	return parseAs<CopyResult>(
		body, maxBytes, "CopyObjectResult", "CopyObject",
		[](Reader &r, const xmlNode *root, CopyResult &out) {
			out.etag = normalizeEtag(r.text(root, "ETag"));
			out.lastModified = r.time(root, "LastModified", {}, false);
		});
}

Result<CopyResult> parseCopyPartResult(std::string_view body, std::size_t maxBytes)
{
	return parseAs<CopyResult>(
		body, maxBytes, "CopyPartResult", "UploadPartCopy",
		[](Reader &r, const xmlNode *root, CopyResult &out) {
			/* The part's ETag goes into CompleteMultipartUpload: no ETag, no part. */
			out.etag = normalizeEtag(r.required(root, "ETag", {}));
			if (!r.failed() && out.etag.empty())
				r.fail({}, "<ETag> is empty");
			out.lastModified = r.time(root, "LastModified", {}, false);
		});
}

Result<DeleteResult> parseDeleteResult(std::string_view body, std::size_t maxBytes)
{
	return parseAs<DeleteResult>(
		body, maxBytes, "DeleteResult", "DeleteObjects",
		[](Reader &r, const xmlNode *root, DeleteResult &out) {
			std::size_t i = 0;
			forEachChild(root, "Deleted", [&](const xmlNode *d) {
				out.deleted.push_back(r.required(d, "Key", indexed("Deleted", ++i)));
			});
			i = 0;
			forEachChild(root, "Error", [&](const xmlNode *e) {
				std::string where = indexed("Error", ++i);
				DeleteFailure f;
				f.key = r.required(e, "Key", where);
				f.versionId = r.text(e, "VersionId");
				f.code = std::string(trimBlanks(r.required(e, "Code", where)));
				f.message = r.text(e, "Message");
				out.errors.push_back(std::move(f));
			});
		});
}

Result<S3Error> parseErrorDocument(std::string_view body, int httpStatus, std::size_t maxBytes)
{
	constexpr std::string_view what = "Error";
	Result<DocPtr> doc = parseDocument(body, what, maxBytes);
	if (!doc)
		return doc.error();
	const xmlNode *root = xmlDocGetRootElement(doc->get());
	if (!hasName(root, "Error"))
		return Error(EPROTO, prefixed(what, "root element is <" + elementName(root) +
							    ">, expected <Error>"));
	return readError(root, httpStatus);
}

std::optional<S3Error> embeddedError(std::string_view body, std::size_t maxBytes)
{
	Result<S3Error> e = parseErrorDocument(body, 200, maxBytes);
	if (!e)
		return std::nullopt;
	return std::move(e).value();
}

Result<std::string> buildCompleteMultipartUpload(std::span<const CompletedPart> parts)
{
	if (parts.empty())
		return Error(EINVAL, "CompleteMultipartUpload: no parts");
	std::string out(kXmlDeclaration);
	out += "<CompleteMultipartUpload xmlns=\"";
	out += kS3Namespace;
	out += "\">";
	int previous = 0;
	for (const CompletedPart &p : parts) {
		if (p.partNumber < 1 || p.partNumber > kMaxPartNumber)
			return Error(EINVAL, "CompleteMultipartUpload: part number " +
						     std::to_string(p.partNumber) + " is outside 1.." +
						     std::to_string(kMaxPartNumber));
		if (p.partNumber <= previous)
			return Error(EINVAL, "CompleteMultipartUpload: part " + std::to_string(p.partNumber) +
						     " follows part " + std::to_string(previous) +
						     " (parts must be strictly ascending)");
		previous = p.partNumber;
		std::string etag = normalizeEtag(p.etag);
		if (etag.empty())
			return Error(EINVAL, "CompleteMultipartUpload: part " + std::to_string(p.partNumber) +
						     " has no ETag");
		if (!xmlRepresentable(etag))
			return Error(EINVAL, "CompleteMultipartUpload: part " + std::to_string(p.partNumber) +
						     " has an ETag XML cannot carry");
		out += "<Part><PartNumber>";
		out += std::to_string(p.partNumber);
		out += "</PartNumber><ETag>";
		appendEscaped(out, etag);
		out += "</ETag></Part>";
	}
	out += "</CompleteMultipartUpload>";
	return out;
}

Result<std::string> buildDeleteObjects(std::span<const std::string> keys, bool quiet)
{
	if (keys.empty())
		return Error(EINVAL, "DeleteObjects: no keys");
	if (keys.size() > kMaxDeleteKeys)
		return Error(EINVAL, "DeleteObjects: " + std::to_string(keys.size()) +
					     " keys, at most " + std::to_string(kMaxDeleteKeys) +
					     " per request");
	std::string out(kXmlDeclaration);
	out += "<Delete xmlns=\"";
	out += kS3Namespace;
	out += "\"><Quiet>";
	out += quiet ? "true" : "false";
	out += "</Quiet>";
	for (std::size_t i = 0; i < keys.size(); ++i) {
		const std::string &key = keys[i];
		if (key.empty())
			return Error(EINVAL, "DeleteObjects: key #" + std::to_string(i) + " is empty");
		if (!xmlRepresentable(key))
			return Error(EINVAL, "DeleteObjects: key #" + std::to_string(i) + " '" + logSafe(key) +
						     "' cannot be sent in XML (invalid UTF-8 or a control "
						     "character); delete it with DeleteObject");
		out += "<Object><Key>";
		appendEscaped(out, key);
		out += "</Key></Object>";
	}
	out += "</Delete>";
	return out;
}

} /* namespace vfs::s3 */
