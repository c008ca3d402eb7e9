"""Driver for ci/junit-consumers.sh: reads a JUnit report with EnricoMi/publish-unit-test-result-
action's own parser (its python/ directory, from a local clone, never committed) and prints the
counts it publishes and, per test case, result, class, name, annotation place and message.
   python3 ci/enricomi-junit.py CLONE/python REPORT.xml   (needs junitparser, lxml, humanize)"""
import sys

sys.path.insert(0, sys.argv[1])
from publish.junit import parse_junit_xml_files, process_junit_xml_elems  # noqa: E402

parsed = process_junit_xml_elems(parse_junit_xml_files([sys.argv[2]], False, False))
print(f"enricomi: tests={parsed.suite_tests} failures={parsed.suite_failures} "
      f"errors={parsed.suite_errors} skipped={parsed.suite_skipped} parse_errors={len(parsed.errors)}")
for c in parsed.cases:
    message = (c.message or "").splitlines()[0] if c.message else ""
    print(f"  {c.result} {c.class_name} {c.test_name} at {c.test_file}:{c.line} | {message}")
