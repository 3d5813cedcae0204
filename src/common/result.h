// Result<T>: the value of an internal call, or an Error (errno + message).
#pragma once

#include <cassert>
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

template<typename T>
class [[nodiscard]] Result
{
public:
	Result(T value) : v_(std::move(value)) {}
	Result(Error error) : v_(std::move(error)) {}

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

	const Error &error() const
	{
		assert(!ok());
		return std::get<1>(v_);
	}

private:
	std::variant<T, Error> v_;
};

template<>
class [[nodiscard]] Result<void>
{
public:
	Result() = default;
	Result(Error error) : error_(std::move(error)), failed_(true) {}

	bool ok() const { return !failed_; }
	explicit operator bool() const { return ok(); }

	const Error &error() const
	{
		assert(failed_);
		return error_;
	}

private:
	Error error_{ 1, {} };
	bool failed_ = false;
};

} /* namespace vfs */
