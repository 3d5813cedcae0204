// A private dbus-daemon (session configuration) for tests that talk D-Bus.
#pragma once

#include <csignal>
#include <cstdlib>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace vfs::test {

/*
 * Starts `dbus-daemon --session` on a fresh socket and points
 * DBUS_SESSION_BUS_ADDRESS at it; the destructor kills that PID. Make one
 * before any thread starts (setenv is not thread-safe).
 */
class PrivateBus
{
public:
	PrivateBus()
	{
		int fds[2];
		if (pipe(fds) != 0)
			return;
		pid_ = fork();
		if (pid_ == 0) {
			close(fds[0]);
			if (fds[1] != 3) {
				dup2(fds[1], 3);
				close(fds[1]);
			}
			execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile",
			       "--print-address=3", static_cast<char *>(nullptr));
			_exit(127);
		}
		close(fds[1]);
		char buf[512];
		std::size_t got = 0;
		while (got < sizeof(buf) - 1) {
			ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += static_cast<std::size_t>(n);
			if (buf[got - 1] == '\n')
				break;
		}
		close(fds[0]);
		address_.assign(buf, got);
		while (!address_.empty() && address_.back() == '\n')
			address_.pop_back();
		if (!address_.empty())
			setenv("DBUS_SESSION_BUS_ADDRESS", address_.c_str(), 1);
	}
	~PrivateBus()
	{
		if (pid_ > 0) {
			kill(pid_, SIGTERM);
			waitpid(pid_, nullptr, 0);
		}
	}
	PrivateBus(const PrivateBus &) = delete;
	PrivateBus &operator=(const PrivateBus &) = delete;

	bool ok() const { return !address_.empty(); }
	const std::string &address() const { return address_; }

private:
	pid_t pid_ = -1;
	std::string address_;
};

} /* namespace vfs::test */
