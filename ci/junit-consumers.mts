// Driver for ci/junit-consumers.sh: reads a JUnit report with the parsers of
// mikepenz/action-junit-report and dorny/test-reporter (copied from local clones by the script)
// and prints what each would show: counts, titles, annotation places, messages, flaky tables.
import * as fs from 'fs'

const report = process.argv[2]
const {parseTestReports} = await import('./mikepenz/src/testParser.ts')
const {buildSummaryTables} = await import('./mikepenz/src/table.ts')
// mikepenz as in ci/github-actions.yml: include_passed, detailed and flaky summaries.
const r = await parseTestReports('preflight', '', report, '', true, true, false, [], '{{TEST_NAME}}', '/')
console.log(`mikepenz: total=${r.totalCount} passed=${r.passed} failed=${r.failed} skipped=${r.skipped} retried=${r.retried}`)
for (const a of r.globalAnnotations) {
  console.log(`  ${a.status} ${a.title} at ${a.path}:${a.start_line} retries=${a.retries} | ${a.message.split('\n')[0]}`)
}
const [, detail, flaky] = buildSummaryTables([r], true, true, true, true, false, false)
const cell = (c: unknown) => (typeof c === 'string' ? c : (c as {data: string}).data)
console.log(`  detailed summary: ${detail.slice(1).map(row => row.map(cell).join(' | ')).join(' ; ')}`)
console.log(`  flaky summary: ${flaky.slice(1).map(row => row.map(cell).join(' | ')).join(' ; ')}`)

const {JavaJunitParser} = await import('./dorny/src/parsers/java-junit/java-junit-parser.ts')
const parsed = await new JavaJunitParser({parseErrors: true, trackedFiles: []}).parse(report, fs.readFileSync(report, 'utf8'))
console.log(`dorny: passed=${parsed.passed} failed=${parsed.failed} skipped=${parsed.skipped} result=${parsed.result}`)
for (const s of parsed.suites) {
  for (const g of s.groups) {
    for (const t of g.tests) {
      console.log(`  ${t.result} ${s.name} / ${g.name} / ${t.name}${t.error ? ` | ${t.error.message}` : ''}`)
    }
  }
}
