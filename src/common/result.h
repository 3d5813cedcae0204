// Result<T>: the value of an internal call, or an Error (errno + message).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace vfs {

class Error
{
public:
	Error(int code, std::string message)
		: code_(code), message_(std::move(message))
	{
		assert(code_ > 0);
	}

	/* A positive errno value: the one place that maps it to FUSE is fuse/. */
	int code() const { return code_; }
	const std::string &message() const { return message_; }
	/* "message: strerror(code)" for logs and D-Bus errors. */
	std::string toString() const;

private:
	int code_;
	std::string message_;
};

/*
 * A value or an error of type E. Result<T> (E = Error) is what internal APIs
 * return; layers with richer errors (S3's typed errors) use their own E and
 * convert to Error at their boundary.
 */
template<typename T, typename E>
class [[nodiscard]] BasicResult
{
public:
	BasicResult(T value) : v_(std::in_place_index<0>, std::move(value)) {}
	BasicResult(E error) : v_(std::in_place_index<1>, std::move(error)) {}

	bool ok() const { return v_.index() == 0; }
	explicit operator bool() const { return ok(); }

	T &value() &
	{
		assert(ok());
		return std::get<0>(v_);
	}
	const T &value() const &
	{
		assert(ok());
		return std::get<0>(v_);
	}
	T &&value() &&
	{
		assert(ok());
		return std::get<0>(std::move(v_));
	}
	T *operator->() { return &value(); }
	const T *operator->() const { return &value(); }
	T &operator*() & { return value(); }
	const T &operator*() const & { return value(); }

	const E &error() const
	{
		assert(!ok());
		return std::get<1>(v_);
	}

private:
	std::variant<T, E> v_;
};

template<typename E>
class [[nodiscard]] BasicResult<void, E>
{
public:
	BasicResult() = default;
	BasicResult(E error) : error_(std::move(error)) {}

	bool ok() const { return !error_.has_value(); }
	explicit operator bool() const { return ok(); }

	const E &error() const
	{
		assert(!ok());
		return *error_;
	}

private:
	std::optional<E> error_;
};

template<typename T>
using Result = BasicResult<T, Error>;

} /* namespace vfs */
