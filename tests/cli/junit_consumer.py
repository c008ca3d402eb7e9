"""Reads a JUnit file with junitparser (a real consumer) and prints what it sees: one line per
suite with its counts, then one line per test case `case CLASSNAME NAME RESULT attachments=N`,
followed (with --text) by the element's message, its body and the attachment paths."""
import sys

from junitparser import Error, Failure, JUnitXml, Skipped

xml = JUnitXml.fromfile(sys.argv[1])
with_text = "--text" in sys.argv[2:]
for suite in xml:
    print(f"suite {suite.name} tests={suite.tests} failures={suite.failures} errors={suite.errors} skipped={suite.skipped}")
    for case in suite:
        kinds = {type(r) for r in case.result}
        result = "failure" if Failure in kinds else "error" if Error in kinds else "skipped" if Skipped in kinds else "passed"
        out = case.system_out or ""
        attachments = [line[len("[[ATTACHMENT|"):-2] for line in out.splitlines()
                       if line.startswith("[[ATTACHMENT|") and line.endswith("]]")]
        print(f"case {case.classname} {case.name} {result} attachments={len(attachments)}")
        if with_text:
            for r in case.result:
                print(f"  {r._tag} message={r.message}")
                for line in (r.text or "").splitlines():
                    print(f"  | {line}")
            for a in attachments:
                print(f"  attachment {a}")
