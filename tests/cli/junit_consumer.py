"""Reads a JUnit file with junitparser (a real consumer) and prints one line per test case:
`suite classname name result`, where result is passed/failure/error/skipped."""
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print(f"suite {suite.name} tests={suite.tests} failures={suite.failures} errors={suite.errors} skipped={suite.skipped}")
    for case in suite:
        kinds = {type(r) for r in case.result}
        result = "failure" if Failure in kinds else "error" if Error in kinds else "skipped" if Skipped in kinds else "passed"
        out = (case.system_out or "").count("[[ATTACHMENT|")
        print(f"case {case.classname} {case.name} {result} attachments={out}")
