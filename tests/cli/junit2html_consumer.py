"""Reads a JUnit file the way a person does with junit2html (PyPI): renders it to HTML, loads the
page in headless Chromium and prints what the page shows: the suite's `Results` table, then one
line per test case (`case NAME OUTCOME`), its message row, and the attachment lines of its Stdout.

Usage: junit2html_consumer.py REPORT.xml WORKDIR"""
import os
import subprocess
import sys
from html.parser import HTMLParser


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent = tag, dict(attrs), parent
        self.children, self.text = [], []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def all_text(self):
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def find(self, pred):
        for c in self.children:
            if pred(c):
                yield c
            yield from c.find(pred)


class Tree(HTMLParser):
    VOID = {"br", "meta", "link", "img", "hr", "input"}

    def __init__(self):
        super().__init__()
        self.root = self.cur = Node("root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.text.append(data)


def rows(table):
    """(header, cell text) of each row of a proplist table."""
    for tr in table.find(lambda n: n.tag == "tr"):
        th = next(tr.find(lambda n: n.tag == "th"), None)
        td = next(tr.find(lambda n: n.tag == "td"), None)
        if th is not None and td is not None:
            yield th.all_text().strip(), td.all_text().strip()


def main():
    report, work = sys.argv[1], sys.argv[2]
    html = os.path.join(work, "junit2html.html")
    subprocess.run([sys.executable, "-m", "junit2htmlreport", report, html], check=True)
    dom = subprocess.run(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         f"--user-data-dir={os.path.join(work, 'chromium-profile')}", "--dump-dom",
         "file://" + os.path.abspath(html)],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout
    tree = Tree()
    tree.feed(dom)
    for suite in tree.root.find(lambda n: "testsuite" in n.classes()):
        results = next(suite.find(lambda n: n.tag == "table"))
        print("results " + " ".join(f"{k.lower()}={v}" for k, v in rows(results) if k != "Duration"))
        for test in suite.find(lambda n: "test" in n.classes()):
            table = next(test.find(lambda n: n.tag == "table"))
            fields = dict(rows(table))
            print(f"case {fields.get('Test case:')} {fields.get('Outcome:')}")
            for key, value in fields.items():
                if key not in ("Test case:", "Outcome:", "Duration:"):
                    print(f"  {key}: {value}")
            for out in test.find(lambda n: "stdout" in n.classes()):
                for line in out.all_text().splitlines():
                    if line.startswith("[[ATTACHMENT|"):
                        print(f"  {line}")


main()
