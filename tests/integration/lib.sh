# Shared by the shell integration tests: TAP-like assertions and the closing count.
passed=0 failed=0

# check NAME CMD...: one assertion, "ok - NAME" or "not ok - NAME".
check() {
  if "${@:2}"; then passed=$((passed + 1)); echo "ok - $1"
  else failed=$((failed + 1)); echo "not ok - $1"; fi
}

# The closing line CI reads, and the exit status.
summary() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
