#!/usr/bin/env python3
"""Prints one 'N passed, N failed' line from meson's JUnit log (every gtest case counts)."""
import sys
import xml.etree.ElementTree as ET

path = sys.argv[1] if len(sys.argv) > 1 else "build/meson-logs/testlog.junit.xml"
try:
    root = ET.parse(path).getroot()
except (OSError, ET.ParseError) as e:
    print(f"test-summary: cannot read {path}: {e}", file=sys.stderr)
    sys.exit(1)

passed = failed = skipped = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif case.find("skipped") is not None:
        skipped += 1
    else:
        passed += 1
suites = len(list(root.iter("testsuite")))
print(f"({suites} suites)")
print(f"Tests: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
